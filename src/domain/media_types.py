"""What an upload *is*, decided from its leading bytes (magic numbers), never from the
name or the Content-Type a client claims.

Pure and standard-library only: :func:`sniff` looks at up to :data:`SNIFF_LENGTH` bytes.
Containers that may hold audio only (Matroska, WebM, an unknown Ogg codec) count as
video; what they really carry is for processing to find out. Sound recordings (MP3,
AAC, FLAC, WAV, AIFF, Ogg Vorbis/Opus, M4A) are audio: the platform takes them too
(:attr:`MediaType.is_audiovisual`), as videos whose renditions carry sound only.
Textual types that a browser would run (HTML, SVG, XML) are named as such so that nobody
serves them inline.
"""

from __future__ import annotations

import enum

from attrs import frozen

SNIFF_LENGTH = 4096
"""How many leading bytes :func:`sniff` needs to decide (fewer for a shorter upload)."""


class MediaKind(enum.Enum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    DOCUMENT = "document"
    ARCHIVE = "archive"
    TEXT = "text"
    BINARY = "binary"


@frozen
class MediaType:
    mime: str
    kind: MediaKind

    @property
    def is_video(self) -> bool:
        return self.kind is MediaKind.VIDEO

    @property
    def is_audiovisual(self) -> bool:
        """Picture or recorded sound: what the platform makes a playable video of. MIDI
        is audio by kind but a score for a synthesizer, not a recording, so it is not."""
        if self.kind is MediaKind.AUDIO:
            return self.mime not in _NOT_RECORDINGS
        return self.kind is MediaKind.VIDEO


def _t(mime: str, kind: MediaKind) -> MediaType:
    return MediaType(mime, kind)


VIDEO, AUDIO, IMAGE = MediaKind.VIDEO, MediaKind.AUDIO, MediaKind.IMAGE
_NOT_RECORDINGS = frozenset({"audio/midi"})
OCTET_STREAM = _t("application/octet-stream", MediaKind.BINARY)
PLAIN_TEXT = _t("text/plain", MediaKind.TEXT)

# Fixed signatures at offset 0, tried in order (longer, more specific ones first).
_PREFIXES: tuple[tuple[bytes, MediaType], ...] = (
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", _t("video/x-ms-asf", VIDEO)),  # ASF / WMV
    (b"FLV\x01", _t("video/x-flv", VIDEO)),
    (b".RMF\x00\x00\x00", _t("application/vnd.rn-realmedia", VIDEO)),
    (b"\x00\x00\x01\xba", _t("video/mpeg", VIDEO)),  # MPEG program stream pack header
    (b"\x00\x00\x01\xb3", _t("video/mpeg", VIDEO)),  # MPEG-1/2 video sequence header
    (b"\x89PNG\r\n\x1a\n", _t("image/png", IMAGE)),
    (b"\xff\xd8\xff", _t("image/jpeg", IMAGE)),
    (b"GIF87a", _t("image/gif", IMAGE)),
    (b"GIF89a", _t("image/gif", IMAGE)),
    (b"II*\x00", _t("image/tiff", IMAGE)),
    (b"MM\x00*", _t("image/tiff", IMAGE)),
    (b"%PDF-", _t("application/pdf", MediaKind.DOCUMENT)),
    (b"PK\x03\x04", _t("application/zip", MediaKind.ARCHIVE)),
    (b"PK\x05\x06", _t("application/zip", MediaKind.ARCHIVE)),  # empty archive
    (b"PK\x07\x08", _t("application/zip", MediaKind.ARCHIVE)),  # spanned archive
    (b"\x1f\x8b\x08", _t("application/gzip", MediaKind.ARCHIVE)),
    (b"7z\xbc\xaf\x27\x1c", _t("application/x-7z-compressed", MediaKind.ARCHIVE)),
    (b"Rar!\x1a\x07", _t("application/vnd.rar", MediaKind.ARCHIVE)),
    (b"\xfd7zXZ\x00", _t("application/x-xz", MediaKind.ARCHIVE)),
    (b"\x28\xb5\x2f\xfd", _t("application/zstd", MediaKind.ARCHIVE)),
    *((b"BZh%d" % level, _t("application/x-bzip2", MediaKind.ARCHIVE)) for level in range(1, 10)),
    *((b"ID3%c" % major, _t("audio/mpeg", AUDIO)) for major in (2, 3, 4)),  # ID3v2 tag
    (b"fLaC", _t("audio/flac", AUDIO)),
    (b"MThd", _t("audio/midi", AUDIO)),
    (b"#!AMR", _t("audio/amr", AUDIO)),
    (b"\x7fELF", _t("application/x-executable", MediaKind.BINARY)),
)

# ISO base media file format (MP4, QuickTime, 3GP...): the major brand after "ftyp".
_BRANDS: tuple[tuple[bytes, MediaType], ...] = (
    (b"qt  ", _t("video/quicktime", VIDEO)),
    (b"3g2", _t("video/3gpp2", VIDEO)),
    (b"3g", _t("video/3gpp", VIDEO)),
    (b"M4A ", _t("audio/mp4", AUDIO)),
    (b"M4B ", _t("audio/mp4", AUDIO)),
    (b"M4P ", _t("audio/mp4", AUDIO)),
    (b"F4A ", _t("audio/mp4", AUDIO)),
    (b"F4B ", _t("audio/mp4", AUDIO)),
    (b"avif", _t("image/avif", IMAGE)),
    (b"avis", _t("image/avif", IMAGE)),
    (b"hei", _t("image/heic", IMAGE)),  # heic, heix, heim, heis
    (b"mif1", _t("image/heif", IMAGE)),
    (b"msf1", _t("image/heif", IMAGE)),
    (b"crx ", _t("image/x-canon-cr3", IMAGE)),
)
MP4 = _t("video/mp4", VIDEO)  # isom, iso2..9, mp41, mp42, avc1, M4V, dash, f4v, MSNV...
QUICKTIME = _t("video/quicktime", VIDEO)
# Top-level atoms that open QuickTime files written without an ftyp box.
_QT_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_QT_NEXT = (*_QT_ATOMS, b"ftyp")

_RIFF: dict[bytes, MediaType] = {
    b"AVI ": _t("video/x-msvideo", VIDEO),
    b"CDXA": _t("video/mpeg", VIDEO),  # Video CD
    b"WAVE": _t("audio/wav", AUDIO),
    b"WEBP": _t("image/webp", IMAGE),
}
# WAV files past 4 GiB (RF64, EBU's BW64) keep the RIFF layout under another name.
_WAVE_64 = (b"RF64", b"BW64")
# IFF: "FORM", a size, then the form type. AIFF-C is AIFF with compression (or none).
_IFF_FORMS: dict[bytes, MediaType] = {
    b"AIFF": _t("audio/aiff", AUDIO),
    b"AIFC": _t("audio/aiff", AUDIO),
}

TS_PACKET = 188
_OGG_CODECS: tuple[tuple[bytes, MediaType], ...] = (
    (b"\x80theora", _t("video/ogg", VIDEO)),
    (b"\x01video", _t("video/ogg", VIDEO)),  # OGM
    (b"BBCD\x00", _t("video/ogg", VIDEO)),  # Dirac
    (b"\x01vorbis", _t("audio/ogg", AUDIO)),
    (b"OpusHead", _t("audio/ogg", AUDIO)),
    (b"\x7fFLAC", _t("audio/ogg", AUDIO)),
    (b"Speex   ", _t("audio/ogg", AUDIO)),
)
OGG = _t("application/ogg", VIDEO)  # codec not recognized: let processing decide

# The WHATWG MIME Sniffing Standard's HTML patterns (§7.1), each followed by a space or >.
_HTML_TAGS = (
    "<!doctype html",
    "<html",
    "<head",
    "<script",
    "<iframe",
    "<h1",
    "<div",
    "<font",
    "<table",
    "<a",
    "<style",
    "<title",
    "<b",
    "<body",
    "<br",
    "<p",
    "<!--",
)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8", 1),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\xfe\xff", "utf-16-be", 2),
)
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1b")


def sniff(head: bytes) -> MediaType:
    """The type of an upload that starts with ``head`` (its first SNIFF_LENGTH bytes, or
    all of it if shorter). Unknown binary data is ``application/octet-stream``."""
    head = head[:SNIFF_LENGTH]
    # Text before transport streams: a 0x47 ("G") every 188 bytes can occur in prose,
    # while a real transport stream is never control-free text (its PAT has NUL bytes).
    found = _container(head) or _signature(head) or _text(head) or _transport_stream(head)
    return found or OCTET_STREAM


def _container(head: bytes) -> MediaType | None:
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        return next((t for prefix, t in _BRANDS if brand.startswith(prefix)), MP4)
    if box in _QT_ATOMS and _quicktime_without_ftyp(head):
        return QUICKTIME
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, or WebM by its DocType
        doc_type = head.find(b"\x42\x82", 4, 64)
        webm = doc_type > 0 and b"webm" in head[doc_type + 2 : doc_type + 14]
        return _t("video/webm", VIDEO) if webm else _t("video/x-matroska", VIDEO)
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _RIFF.get(head[8:12], OCTET_STREAM)
    if head[:4] in _WAVE_64 and head[8:12] == b"WAVE":
        return _RIFF[b"WAVE"]
    if head.startswith(b"FORM") and head[8:12] in _IFF_FORMS:
        return _IFF_FORMS[head[8:12]]
    if head.startswith(b"OggS"):
        # The codec's identification header is in its first page, after any skeleton.
        return next((t for codec, t in _OGG_CODECS if codec in head), OGG)
    return None


def _quicktime_without_ftyp(head: bytes) -> bool:
    """Text such as "Get free..." must not pass for a movie: a small leading atom must be
    followed by another known atom, and a big one's size must not read as ASCII text."""
    size = int.from_bytes(head[:4], "big")
    if size < 8:
        return False
    if head[4:8] in (b"moov", b"mdat"):
        return not all(0x20 <= b < 0x7F for b in head[:4])
    return head[size + 4 : size + 8] in _QT_NEXT


def _transport_stream(head: bytes) -> MediaType | None:
    """MPEG-TS (188-byte packets) or M2TS / Blu-ray (each packet behind a 4-byte
    timestamp): the sync byte 0x47 starts every packet in view, at least three of them."""
    for offset, stride in ((0, TS_PACKET), (4, TS_PACKET + 4)):
        positions = range(offset, len(head), stride)
        if len(positions) >= 3 and all(head[p] == 0x47 for p in positions):
            return _t("video/mp2t", VIDEO)
    return None


def _signature(head: bytes) -> MediaType | None:
    for prefix, media in _PREFIXES:
        if head.startswith(prefix):
            return media
    audio = _audio_frame(head)
    if audio is not None:
        return audio
    if head.startswith(b"BM") and len(head) >= 18:
        dib_header = int.from_bytes(head[14:18], "little")
        if dib_header in (12, 40, 52, 56, 64, 108, 124):
            return _t("image/bmp", IMAGE)
    if len(head) >= 262 and head[257:262] == b"ustar":
        return _t("application/x-tar", MediaKind.ARCHIVE)
    return None


def _audio_frame(head: bytes) -> MediaType | None:
    """A raw MPEG audio (MP3) or ADTS (AAC) frame header: 11 sync bits, then fields
    whose reserved values rule out look-alikes such as a UTF-16 byte order mark."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0x03, (head[1] >> 1) & 0x03
    if layer == 0:  # ADTS: MPEG-4 AAC
        valid = head[1] & 0xF0 == 0xF0 and (head[2] >> 2) & 0x0F < 13
        return _t("audio/aac", AUDIO) if valid else None
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x03
    # Layer I (bits 11) is all but extinct, and FF FE is also the UTF-16 byte order mark.
    if version == 0x01 or layer == 0x03 or bitrate == 0x0F or rate == 0x03:
        return None
    return _t("audio/mpeg", AUDIO)


def _text(head: bytes) -> MediaType | None:
    """UTF-8 text without binary control characters; markup a browser would run is
    named for what it is."""
    if not head:
        return None
    text = _decoded(head)
    if text is None:
        return None
    if any((ord(c) < 32 and ord(c) not in _TEXT_CONTROLS) or c == "\x7f" for c in text):
        return None
    return _markup(text) or PLAIN_TEXT


def _decoded(head: bytes) -> str | None:
    """The text of UTF-8 (with or without a BOM) or BOM-marked UTF-16; a character cut
    off by the end of the sniffed window does not count against it."""
    for bom, codec, unit in _BOMS:
        if head.startswith(bom):
            body = head[len(bom) :]
            return _decode(body[: len(body) - len(body) % unit], codec)
    return _decode(head, "utf-8")


def _decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except UnicodeDecodeError as error:
        if error.reason != "unexpected end of data" or error.start < len(body) - 4:
            return None
        return body[: error.start].decode(codec)


def _markup(text: str) -> MediaType | None:
    start = text.lstrip(" \t\r\n\x0c").lower()
    if start.startswith("<?xml"):
        svg = "<svg" in start
        return _t("image/svg+xml", IMAGE) if svg else _t("application/xml", MediaKind.TEXT)
    if start.startswith("<svg"):
        return _t("image/svg+xml", IMAGE)
    for tag in _HTML_TAGS:
        if start.startswith(tag) and start[len(tag) : len(tag) + 1] in (" ", ">", "\t", "\n", "\r"):
            return _t("text/html", MediaKind.TEXT)
    return None
