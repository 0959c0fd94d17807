#!/usr/bin/env python3
"""Write the stored code-point classes of the OpenAPI document's patterns.

The document's patterns name classes of characters (whitespace, controls a field
refuses, letters and digits a query needs) found by asking a rule about every code
point, about a second a class. ``schema.char_class`` takes them from
``entrypoints/http/code_point_classes.py`` instead, where they were stored for this
Python's Unicode version; run this after changing a rule behind one, or to store them
for another Unicode version:

    .venv/bin/python scripts/code_point_classes.py

It builds the API once (an embedded platform in a temporary folder) to learn every
class the document uses, scans each, and writes the module. A unit test scans them all
again and compares.
"""

from __future__ import annotations

import tempfile
import textwrap
import unicodedata
from pathlib import Path

from videoplatform.entrypoints.bootstrap import create_platform
from videoplatform.entrypoints.http import schema
from videoplatform.entrypoints.http.app import create_app
from videoplatform.entrypoints.settings import Settings

TARGET = Path(schema.__file__).with_name("code_point_classes.py")
WIDTH = 80


def packed(ranges: list[tuple[int, int]]) -> str:
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in ranges)


def module_text(classes: dict[str, list[tuple[int, int]]]) -> str:
    lines = [
        '"""Code-point classes of the OpenAPI document\'s patterns, as ranges of',
        "hexadecimal code points (see ``schema.char_class``). Written by",
        '``scripts/code_point_classes.py``: do not edit."""',
        "",
        f'UNICODE_VERSION = "{unicodedata.unidata_version}"',
        "",
        "RANGES: dict[str, str] = {",
    ]
    for name in sorted(classes):
        text = packed(classes[name])
        if len(text) <= WIDTH - len(name) - 10:
            lines.append(f'    "{name}": "{text}",')
            continue
        lines.append(f'    "{name}": (')
        chunks = textwrap.wrap(text, WIDTH - 10, break_on_hyphens=False)
        lines += [
            f'        "{chunk}{" " if n < len(chunks) - 1 else ""}"'
            for n, chunk in enumerate(chunks)
        ]
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        create_platform(Settings(data_dir=folder, processing_threads=0)) as platform,
    ):
        create_app(platform)  # builds the document: every class is named on the way
    classes = {name: schema.scan_ranges(holds) for name, holds in schema.named_classes().items()}
    TARGET.write_text(module_text(classes))
    print(f"{TARGET.name}: {len(classes)} classes for Unicode {unicodedata.unidata_version}")


if __name__ == "__main__":
    main()
