"""What embedding costs before the first call: ``import videoplatform`` and
``create_platform(Settings.in_memory())``, each in fresh interpreters.

Goals (issue "one import root"): under 0.15 s for ``import videoplatform`` and under
0.3 s for an in-memory platform, on the machine where they were set (there the import
took 0.39 s before this work). Machines differ, so each figure is also given beside
``import attrs`` (the one library every layer loads) in the same run; the absolute
figures are compared with the goals as they are.

Two measures, both from fresh interpreters run one after another, median of ``runs``:
- wall: ``time.perf_counter()`` around the statement, inside the interpreter;
- ``-X importtime``: the cumulative microseconds the interpreter reports for the
  ``videoplatform`` package (import only; includes the tracing overhead).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any

STATEMENTS = {
    "import attrs": "import attrs",
    "import videoplatform": "import videoplatform",
    "import + in-memory platform": (
        "import videoplatform as vp; vp.create_platform(vp.Settings.in_memory()).close()"
    ),
    "import + embedded platform (SQLite)": (
        "import tempfile, videoplatform as vp\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    vp.create_platform(vp.Settings.from_env({'VIDEOPLATFORM_DATA_DIR': d})).close()"
    ),
}
GOALS = {"import videoplatform": 0.15, "import + in-memory platform": 0.3}


def _timed(statement: str) -> float:
    code = (
        "import time\n_t = time.perf_counter()\n" + statement + "\nprint(time.perf_counter() - _t)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def _importtime_us() -> int:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import videoplatform"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for line in done.stderr.splitlines():
        fields = [field.strip() for field in line.removeprefix("import time:").split("|")]
        if len(fields) == 3 and fields[2] == "videoplatform":
            return int(fields[1])
    raise RuntimeError("-X importtime reported no videoplatform package")


def run(*, runs: int = 15) -> dict[str, Any]:
    # Warm the file cache and the bytecode once, as any second start would find them.
    for statement in STATEMENTS.values():
        _timed(statement)
    medians: dict[str, float] = {}
    for name, statement in STATEMENTS.items():
        medians[name] = statistics.median(_timed(statement) for _ in range(runs))
    importtime = statistics.median(_importtime_us() for _ in range(runs)) / 1e6
    reference = medians["import attrs"]

    print(f"\nfresh interpreters, median of {runs} (seconds)")
    print(f"{'statement':40} {'wall':>8} {'x attrs':>8} {'goal':>6}")
    for name, seconds in medians.items():
        goal = GOALS.get(name)
        goal_text = f"{goal:.2f}" if goal else ""
        print(f"{name:40} {seconds:8.3f} {seconds / reference:8.1f} {goal_text:>6}")
    print(f"{'-X importtime: videoplatform':40} {importtime:8.3f}")
    return {
        "runs": runs,
        "wall_seconds": medians,
        "ratio_to_import_attrs": {name: s / reference for name, s in medians.items()},
        "importtime_videoplatform_seconds": importtime,
        "goals_seconds": GOALS,
    }
