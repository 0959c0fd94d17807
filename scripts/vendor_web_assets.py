#!/usr/bin/env python3
"""Fetch the web application's third-party browser libraries from the npm registry.

They are release files, unmodified, with their licence texts, kept among the web
package's static assets (the way swagger-ui-bundle ships Swagger UI): the site then
loads nothing from any third party when it runs.

    python3 scripts/vendor_web_assets.py                  fetch the pinned releases
    python3 scripts/vendor_web_assets.py --check          verify the files already here
    python3 scripts/vendor_web_assets.py --print-digests  show a release's digests

Each pin names the release's tarball and its sha256, and the sha256 of every file
taken from it: a tarball or a file that differs is refused, and ``--check`` (run by
the unit tests) proves the committed files are the pinned ones. To move to a new
release: change its version, run ``--print-digests``, read the release notes, and pin
the digests it printed. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = (
    Path(__file__).resolve().parent.parent / "src" / "entrypoints" / "web" / "static" / "vendor"
)
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    tarball_sha256: str
    files: dict[str, str]
    """Path inside the tarball (under ``package/``) → sha256 of its bytes."""

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def folder(self) -> Path:
        return VENDOR / self.package


PINS = (
    Pin(
        # Apache-2.0. The player on browsers without native HLS; the worker is loaded
        # from its own file (workerPath), so the page's policy needs no blob: workers.
        "hls.js",
        "1.7.4",
        "e4ab3d5d13f7cca9ef241d098f39686e19fd451831ba07dc9943482fd5ff75c7",
        {
            "dist/hls.min.js": "cfc70cc9e9fc63d071919e087670abc760c8fd1bc889b88588026e4d22193bbe",
            "dist/hls.worker.js": (
                "8553e459962fdbb5813fc2d2cb45d171c7f9e91cfb82a3e44789e438e61aa743"
            ),
            "LICENSE": "ca8773cf798c7ed997d4dd7c8e23c348699f8d5b7462636694cc14de6cda12db",
        },
    ),
    Pin(
        # MIT. Resumable uploads over tus from the upload page.
        "tus-js-client",
        "4.3.1",
        "919f46808b2c689be9214df5c0f21879bee4a4599b34e212ada8f14de1db9bc0",
        {
            "dist/tus.min.js": "8cbb1b63fccc3bba0ae73ad1deb160ce046c3750851d0c3e94921ae3ef070eb8",
            "LICENSE": "2ec372e137fa65938a6551e9abaa3d3ea21f5ebd398fca00a13354ea881e6539",
        },
    ),
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(pin: Pin) -> bytes:
    with urllib.request.urlopen(pin.url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
        data: bytes = answer.read()
    if sha256(data) != pin.tarball_sha256:
        raise SystemExit(f"{pin.url}: sha256 {sha256(data)} is not the pinned one")
    return data


def members(pin: Pin, tarball: bytes) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in pin.files:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{pin.package}: {name} is not a file in the release")
            found[name] = member.read()
    return found


def target(pin: Pin, name: str) -> Path:
    return pin.folder / Path(name).name


def fetch() -> None:
    for pin in PINS:
        files = members(pin, download(pin))
        for name, data in files.items():
            if sha256(data) != pin.files[name]:
                raise SystemExit(f"{pin.package} {name}: sha256 {sha256(data)} is not pinned")
        pin.folder.mkdir(parents=True, exist_ok=True)
        for stale in pin.folder.iterdir():
            stale.unlink()
        for name, data in files.items():
            target(pin, name).write_bytes(data)
        print(f"{pin.package} {pin.version}: {len(files)} files in {pin.folder}")


def check() -> list[str]:
    """What differs from the pins (empty when every vendored file is the pinned one)."""
    problems = []
    for pin in PINS:
        wanted = {target(pin, name).name for name in pin.files}
        present = {p.name for p in pin.folder.iterdir()} if pin.folder.is_dir() else set()
        problems += [f"{pin.package}: unexpected file {n}" for n in sorted(present - wanted)]
        for name, digest in pin.files.items():
            path = target(pin, name)
            if not path.is_file():
                problems.append(f"{pin.package}: {path.name} is missing")
            elif sha256(path.read_bytes()) != digest:
                problems.append(f"{pin.package}: {path.name} is not the pinned release file")
    return problems


def print_digests() -> None:
    for pin in PINS:
        with urllib.request.urlopen(pin.url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            data: bytes = answer.read()
        print(f"{pin.package} {pin.version} tarball {sha256(data)}")
        for name, content in members(pin, data).items():
            print(f"    {name!r}: {sha256(content)!r},")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="verify the vendored files")
    group.add_argument("--print-digests", action="store_true", help="show the digests")
    args = parser.parse_args(argv)
    if args.print_digests:
        print_digests()
        return 0
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    fetch()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
