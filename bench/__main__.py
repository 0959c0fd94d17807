"""``python -m bench [NAME ...] [--videos N]``: run benchmarks, print tables, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import sql

SUITES = {"sql": sql.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--videos", type=int, default=100_000, help="rows to seed (sql)")
    parser.add_argument("--samples", type=int, default=300, help="timed calls per measurement")
    parser.add_argument("--out", default="bench/results", help="folder for the JSON results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.suites:
        results = SUITES[name](videos=args.videos, samples=args.samples)
        path = out / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2))
        print(f"\n{name}: results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
