"""The embedders' facade: every public name resolves to the object its module defines,
and importing the package loads no layer until a name is used."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import videoplatform as vp

FACADE = Path(vp.__file__)


def test_every_public_name_is_the_object_its_module_defines() -> None:
    assert sorted(vp.__all__) == sorted(vp._SOURCES)
    for name, module in vp._SOURCES.items():
        assert getattr(vp, name) is getattr(importlib.import_module(module), name)


def test_the_type_checking_imports_name_the_same_sources() -> None:
    # mypy reads the imports under TYPE_CHECKING; the runtime reads _SOURCES.
    typed: dict[str, str] = {}
    for node in ast.walk(ast.parse(FACADE.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("videoplatform.")
        ):
            typed.update({alias.name: node.module for alias in node.names})
    assert typed == vp._SOURCES


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        vp.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_loads_no_layer_nor_driver() -> None:
    code = (
        "import sys, videoplatform\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('videoplatform.') "
        "or m.split('.')[0] in ('sqlalchemy', 'alembic', 'psycopg', 'falcon', 'structlog'))\n"
        "print(loaded)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_an_in_memory_platform_loads_no_sql_machinery() -> None:
    code = (
        "import sys, videoplatform as vp\n"
        "vp.create_platform(vp.Settings.in_memory()).close()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'alembic', 'psycopg', 'pika', 'redis', 'boto3', 'falcon'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
