"""The site's static files, served by the app itself under names that carry a digest of
their content: a browser may keep each one for a year, and a changed file is a new name.

Nothing is built: the project's own CSS and JavaScript are hand-written files, and the
vendored libraries (``static/vendor``, see ``scripts/vendor_web_assets.py``) are release
files left as they were published.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path, PurePosixPath

import falcon
from attrs import frozen

STATIC = "/static"
FOREVER = "public, max-age=31536000, immutable"
TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    "": "text/plain; charset=utf-8",  # the vendored LICENSE files
}
COMPRESSED = frozenset({".css", ".js", ".svg", ""})
"""Text, sent gzipped to a browser that takes it (compressed once, at start)."""


def folder() -> Path:
    return Path(__file__).resolve().parent / "static"


@frozen
class Asset:
    data: bytes
    url: str
    etag: str
    content_type: str
    gzipped: bytes | None = None
    """The bytes compressed once, for text a browser may take compressed."""


def _digested(relative: PurePosixPath, digest: str) -> str:
    """``vendor/hls.js/hls.min.js`` → ``vendor/hls.js/hls.min.<digest>.js``."""
    suffix = relative.suffix
    stem = relative.name[: -len(suffix)] if suffix else relative.name
    return str(relative.with_name(f"{stem}.{digest}{suffix}"))


class StaticAssets:
    """Reads the static folder once, when the app is made: the URL of each file by its
    plain name (for templates), and the file behind each URL (for requests)."""

    def __init__(self, root: Path | None = None) -> None:
        root = root or folder()
        self._by_name: dict[str, Asset] = {}
        self._by_url: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.suffix not in TYPES:
                continue
            relative = PurePosixPath(path.relative_to(root).as_posix())
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()[:16]
            served = _digested(relative, digest)
            packed = gzip.compress(data, 9, mtime=0) if path.suffix in COMPRESSED else None
            asset = Asset(data, f"{STATIC}/{served}", digest, TYPES[path.suffix], packed)
            self._by_name[str(relative)] = asset
            self._by_url[served] = asset

    def url(self, name: str) -> str:
        """The URL of the static file ``name`` (relative to the static folder)."""
        return self._by_name[name].url

    def on_get(self, req: falcon.Request, resp: falcon.Response, path: str) -> None:
        asset = self._by_url.get(path)
        if asset is None:
            raise falcon.HTTPNotFound(description="no such file")
        resp.cache_control = [FOREVER]
        resp.etag = f'"{asset.etag}"'
        resp.vary = ["Accept-Encoding"]
        if req.get_header("If-None-Match") == f'"{asset.etag}"':
            resp.status = falcon.HTTP_304
            return
        resp.content_type = asset.content_type
        if asset.gzipped is not None and _takes_gzip(req):
            resp.set_header("Content-Encoding", "gzip")
            resp.data = asset.gzipped
            return
        resp.data = asset.data


def _takes_gzip(req: falcon.Request) -> bool:
    """Whether the request's Accept-Encoding admits gzip (not refused with q=0)."""
    for item in (req.get_header("Accept-Encoding") or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip() if params else "1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False
