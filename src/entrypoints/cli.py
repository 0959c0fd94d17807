"""The ``videoplatform`` console command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import attrs

from entrypoints.bootstrap import create_platform
from entrypoints.settings import ConfigurationError, Settings


def _version() -> str:
    try:
        return version("videoplatform")
    except PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


def _check(_: argparse.Namespace) -> int:
    """Validate the environment's settings and wire a platform from them."""
    settings = Settings.from_env()
    create_platform(settings)
    print("settings are valid; the platform wires up with:")
    for field in attrs.fields(Settings):
        if field.name.endswith("_url") or field.name == "data_dir":
            print(f"  {field.name:<14} {getattr(settings, field.name)}")
    return 0


def _serve(_: argparse.Namespace) -> int:
    print(
        "videoplatform: the HTTP API and its `serve` command are not part of this release "
        "yet; embed the platform from Python instead (see README.md).",
        file=sys.stderr,
    )
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoplatform", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="validate settings and wire the platform").set_defaults(
        run=_check
    )
    commands.add_parser("serve", help="run the HTTP API (not yet available)").set_defaults(
        run=_serve
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as exc:
        print(f"videoplatform: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
