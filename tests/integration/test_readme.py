"""The README's embedder example runs as written and prints what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _embedding_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Embedding")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _block(section: str, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block in the README's Embedding section"
    return match.group(1)


def test_readme_embedder_example_runs_and_prints_what_the_readme_promises(
    tmp_path: Path,
) -> None:
    section = _embedding_section()
    script = tmp_path / "example.py"
    script.write_text(_block(section, "python"), encoding="utf-8")

    # A fresh interpreter in an empty directory: only the installed package is importable.
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == _block(section, "text")


def test_readme_example_imports_only_the_public_facade() -> None:
    code = _block(_embedding_section(), "python")
    imported = set(re.findall(r"^\s*(?:import|from)\s+([\w.]+)", code, re.MULTILINE))
    assert imported <= {"io", "datetime", "videoplatform"}, imported
