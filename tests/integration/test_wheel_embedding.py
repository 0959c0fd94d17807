"""The built wheel installs one import name, and embeds beside an application whose own
packages are called ``domain``, ``adapters`` and ``entrypoints``.

The wheel is built from a copy of the sources, installed into a fresh virtual
environment, and run from the host application's folder, where the application's own
packages come first on ``sys.path``. The platform's dependencies are taken from the
development environment (a path entry after the fresh environment's own
site-packages), so nothing is downloaded; the platform itself can only come from the
wheel, which the script checks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.integration.test_readme import _block, _embedding_section

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ("pyproject.toml", "setup.py", "README.md")

HOST_PACKAGES = {
    "domain/__init__.py": 'ORDER = ("draft", "paid", "shipped")\n',
    "adapters/__init__.py": "",
    "adapters/memory.py": "STORE: dict[str, str] = {'host': 'adapters.memory'}\n",
    # The PyPI package `entrypoints` has this function; ours once shadowed it.
    "entrypoints/__init__.py": "def get_group_all(group):\n    return [group]\n",
}


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (a build writes beside them)."""
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGING:
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    dist = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip"]
    built = _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        cwd=source,
    )
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("videoplatform-*.whl")
    return found


def test_the_wheel_installs_only_the_videoplatform_import_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (info,) = {name.split("/")[0] for name in archive.namelist() if ".dist-info/" in name}
        top_level = archive.read(f"{info}/top_level.txt").decode().split()
        record = archive.read(f"{info}/RECORD").decode().splitlines()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()

    assert top_level == ["videoplatform"]
    roots = {line.split(",")[0].split("/")[0] for line in record if line}
    assert roots == {"videoplatform", info}
    for layer in ("domain", "application", "adapters", "entrypoints"):
        assert f"videoplatform/{layer}/__init__.py" in "\n".join(record)
    assert "videoplatform = videoplatform.entrypoints.cli:main" in entry_points


def test_the_readme_example_runs_beside_an_application_with_colliding_package_names(
    wheel: Path, tmp_path: Path
) -> None:
    environment = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(environment)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = environment / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    installed = _run([*pip, "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    # The dependencies (attrs, SQLAlchemy, ...) from the development environment, after
    # the fresh environment's own site-packages: only its platform is importable.
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(_run([str(python), "-c", purelib], tmp_path).stdout.strip())
    (site_packages / "development-dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )

    application = tmp_path / "app"
    for relative, text in HOST_PACKAGES.items():
        path = application / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    section = _embedding_section()
    example = _block(section, "python")
    (application / "main.py").write_text(
        "import domain\nimport adapters.memory\nimport entrypoints\n\n"
        + example
        + textwrap.dedent(
            f"""
            import videoplatform
            assert videoplatform.__file__.startswith({str(site_packages)!r}), videoplatform.__file__
            print(domain.ORDER, adapters.memory.STORE["host"], entrypoints.get_group_all("g"))
            """
        ),
        encoding="utf-8",
    )

    done = _run([str(python), "main.py"], application)

    assert done.returncode == 0, done.stderr
    assert done.stdout == _block(section, "text") + (
        "('draft', 'paid', 'shipped') adapters.memory ['g']\n"
    )
