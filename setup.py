"""Package mapping for the one import root, `videoplatform`.

The repository keeps one folder per hexagonal layer (``src/domain``, ``src/application``,
``src/adapters``, ``src/entrypoints``) beside the facade (``src/videoplatform``). Installed,
they are all beneath one top-level package: ``videoplatform.domain`` and so on, so the
distribution never claims a name an embedding application may use for its own packages.
Everything else about the distribution lives in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup

SRC = Path("src")
ROOT = "videoplatform"
LAYERS = ("domain", "application", "adapters", "entrypoints")


def _packages_under(folder: Path, name: str) -> dict[str, str]:
    """Every package in ``folder`` (one with an ``__init__.py``), by import name."""
    found: dict[str, str] = {}
    for init in sorted(folder.rglob("__init__.py")):
        parts = init.parent.relative_to(folder).parts
        if "__pycache__" in parts:
            continue
        found[".".join((name, *parts))] = init.parent.as_posix()
    return found


package_dir = _packages_under(SRC / ROOT, ROOT)
for layer in LAYERS:
    package_dir.update(_packages_under(SRC / layer, f"{ROOT}.{layer}"))

setup(packages=sorted(package_dir), package_dir=package_dir)
