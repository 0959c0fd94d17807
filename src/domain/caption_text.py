"""Uploaded captions, SRT or WebVTT, turned into safe, canonical WebVTT.

The platform serves captions to browsers, so what it stores must be WebVTT that can carry
nothing but captions: no CSS (STYLE blocks are dropped), no markup beyond WebVTT's own
(``c i b u ruby rt v lang`` and inner timestamps), every ``&``, ``<`` and ``>`` that is not
part of that markup escaped (backslashes too, see :func:`_escape`). The format is decided
from the content, never from a name. What is stored reads back unchanged.

Decisions worth knowing:

* WebVTT blocks are split as the W3C parser splits them (a line with ``-->`` in the wrong
  place starts a new block), but a line that must be a cue timing and is not one is
  refused with its line number rather than silently losing the cue, as players would.
* SRT cues are anchored on their timing lines; a digits-only line right before a timing
  line is the counter and is dropped, blank lines inside the text collapse. In SRT too, a
  line holding ``-->`` must be a valid timing (WebVTT could not carry it as text).
* A cue whose end is not after its start, or whose text is empty once sanitised, is
  dropped. Any time past :data:`MAX_CUE_SECONDS` refuses the file.
* :data:`MAX_CUES` counts every cue with a valid timing, dropped ones included, so that
  hostile input cannot make the parser work through more.
* A cue longer than :data:`MAX_CUE_CHARS` once sanitised is truncated between tokens or
  inside text, never inside a tag or an entity, and its open tags are closed within the
  limit.
* Unknown tags (``<font>``, ``<script>``...) and ASS override blocks (``{\\an8}``) are
  removed, their text kept. Control characters (C0 but tab and newline, DEL, C1) are
  removed everywhere. Named references beyond ``amp lt gt lrm rlm nbsp`` become the
  characters they name; numeric ones to 0x80-0x9F are read as Windows-1252, as browsers
  do, and those to NUL, other controls but tab and newline, DEL, surrogates or past
  U+10FFFF are removed.
* End tags follow WebVTT, not HTML: one closes the innermost open element only if the names
  match (``</ruby>`` also closes an ``rt`` inside it); any other is dropped.

Every step is linear in the input: plain string searches, and regular expressions in
which no text can be matched in more than one way, so none backtracks more than once over
a line. Hostile uploads of the maximum size parse or are refused in a fraction of a second.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Callable, Iterator

from attrs import frozen

from videoplatform.domain.errors import ValidationError

MAX_CAPTION_BYTES = 2 * 1024 * 1024
"""The upload limit (the HTTP layer enforces it as well)."""
MAX_STORED_CHARS = 2 * MAX_CAPTION_BYTES
"""The canonical WebVTT's size at most (characters; it is mostly ASCII)."""
MAX_CUES = 20_000
MAX_CUE_CHARS = 1_000
"""Characters of one cue's text after sanitising, markup included."""
MAX_CUE_SECONDS = 24 * 3600
"""No cue may start or end later than this."""
MAX_IDENTIFIER_CHARS = 100

_MAX_MS = MAX_CUE_SECONDS * 1000


@frozen
class CaptionDocument:
    webvtt: str
    """Canonical WebVTT: ``WEBVTT``, a blank line, then the cues, each ended by a newline."""
    cue_count: int
    source_format: str
    """``"webvtt"`` or ``"srt"``."""
    last_end_seconds: float


def parse_captions(raw: bytes) -> CaptionDocument:
    """Read an uploaded caption file; raise :class:`ValidationError` on field ``file``."""
    text = _decode(raw)
    cues = _Cues(text)
    if text.startswith("WEBVTT") and text[6:7] in ("", " ", "\t", "\n"):
        source_format = "webvtt"
        _parse_webvtt(text, cues)
    elif _looks_like_srt(text):
        source_format = "srt"
        _parse_srt(text, cues)
    else:
        raise _refuse("must be a WebVTT or SRT file")
    if not cues.kept:
        raise _refuse("has no captions")
    ordered = sorted(cues.kept, key=lambda cue: cue.start)
    webvtt = "WEBVTT\n\n" + "\n\n".join(cue.render() for cue in ordered) + "\n"
    # Escaping can grow text up to 5x ("<" becomes "&lt;"): what is stored, and served
    # on every fetch, stays bounded too.
    if len(webvtt) > MAX_STORED_CHARS:
        raise _refuse(f"is larger than {MAX_STORED_CHARS // (1024 * 1024)} MiB once converted")
    return CaptionDocument(
        webvtt=webvtt,
        cue_count=len(ordered),
        source_format=source_format,
        last_end_seconds=max(cue.end for cue in ordered) / 1000,
    )


def _refuse(problem: str) -> ValidationError:
    return ValidationError.field("file", problem)


# C0 controls but tab and newline (carriage returns are gone by then), DEL, C1 controls.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)])


def _decode(raw: bytes) -> str:
    if len(raw) > MAX_CAPTION_BYTES:
        raise _refuse(f"is larger than {MAX_CAPTION_BYTES // (1024 * 1024)} MiB")
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = raw.decode("utf-16")  # the codec reads and removes the byte order mark
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse("must be UTF-8 text (or UTF-16 with a byte order mark)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS)


# --- times ------------------------------------------------------------------------------

_VTT_STAMP = r"([0-9]+):([0-9]{2})(?::([0-9]{2}))?\.([0-9]{3})(?![0-9])"
_VTT_STAMP_RE = re.compile(_VTT_STAMP, re.ASCII)
_VTT_TIMING = re.compile(
    rf"[ \t]*{_VTT_STAMP}[ \t]*-->[ \t]*{_VTT_STAMP}(.*)", re.ASCII | re.DOTALL
)
_SRT_STAMP = r"([0-9]{1,2}):([0-9]{2}):([0-9]{2})[,.]([0-9]{3})"
_SRT_TIMING = re.compile(rf"{_SRT_STAMP}[ \t]*-->[ \t]*{_SRT_STAMP}(?:[ \t].*)?", re.ASCII)


def _ms(hours: str, minutes: str, seconds: str, millis: str) -> int | None:
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    # Hours past any limit need no exact value (and int() refuses thousands of digits).
    whole_hours = int(hours) if len(hours) <= 6 else 10**6
    return ((whole_hours * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis)


def _vtt_ms(first: str, second: str, third: str | None, millis: str) -> int | None:
    """A WebVTT timestamp: ``mm:ss.ttt`` (two-digit minutes up to 59) or ``h+:mm:ss.ttt``."""
    if third is not None:
        return _ms(first, second, third, millis)
    if len(first) != 2:
        return None
    return _ms("0", first, second, millis)


def _format_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


# --- cues -------------------------------------------------------------------------------


@frozen
class _Cue:
    start: int
    end: int
    identifier: str | None
    settings: str
    text: str

    def render(self) -> str:
        timing = f"{_format_ms(self.start)} --> {_format_ms(self.end)}"
        if self.settings:
            timing += " " + self.settings
        head = f"{self.identifier}\n{timing}" if self.identifier else timing
        return f"{head}\n{self.text}"


class _Cues:
    """Collects the cues of one document, applying the rules both formats share."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.kept: list[_Cue] = []
        self.seen = 0

    def line_number(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def refuse_timing(self, offset: int) -> ValidationError:
        return _refuse(f"line {self.line_number(offset)}: the cue's timing is not valid")

    def add(self, timing: _Timing, text: str, identifier: str = "") -> None:
        self.seen += 1
        if self.seen > MAX_CUES:
            raise _refuse(f"has more than {MAX_CUES} cues")
        if timing.start > _MAX_MS or timing.end > _MAX_MS:
            line = self.line_number(timing.offset)
            raise _refuse(f"line {line}: the cue is timed past {MAX_CUE_SECONDS // 3600} hours")
        if timing.end <= timing.start:
            return
        sanitised = _sanitise(text)
        if sanitised is None:
            return
        # Identifiers are plain names: nothing a browser or a later rewrite of cue times
        # could read as markup, an entity or a timestamp.
        ident = _IDENTIFIER_DROP.sub("", identifier)[:MAX_IDENTIFIER_CHARS].strip() or None
        self.kept.append(_Cue(timing.start, timing.end, ident, timing.settings, sanitised))


@frozen
class _Timing:
    start: int
    end: int
    settings: str
    offset: int
    """Where the timing line starts in the document, for messages."""


def _arrow_lines(text: str, position: int) -> Iterator[tuple[int, int]]:
    """Start and end of each line from ``position`` on that holds ``-->``."""
    while (arrow := text.find("-->", position)) != -1:
        start = text.rfind("\n", 0, arrow) + 1
        end = text.find("\n", arrow)
        if end == -1:
            end = len(text)
        yield start, end
        position = end + 1


def _first_block(chunk: str) -> str:
    """The lines of ``chunk`` before its first empty line, without the last newline."""
    text = "\n" + chunk
    blank = text.find("\n\n")
    body = text[1:blank] if blank != -1 else text[1:]
    return body.removesuffix("\n")


def _parse_webvtt(text: str, cues: _Cues) -> None:
    """Cues as the W3C parser collects blocks, found from the lines holding ``-->``.

    The signature line and the header block after it are dropped; so is every block
    without a timing (NOTE, STYLE, REGION, stray text). A timing line's identifier is the
    one line before it, when that line follows an empty line; its text runs to the first
    empty line or to the next line holding ``-->``, which starts a new block.
    """
    signature_end = text.find("\n")
    if signature_end == -1:
        return
    previous: _Timing | None = None
    previous_identifier = ""
    before = 0  # where the text between the previous timing line and the next one starts
    for start, end in _arrow_lines(text, signature_end + 1):
        between = "\n" + text[before:start]
        first_blank = between.find("\n\n")
        identifier = ""
        if first_blank == -1:  # no empty line: the previous block runs up to this line
            body = between[1:].removesuffix("\n")
        else:
            body = between[1:first_blank]
            tail = between[between.rfind("\n\n") + 2 :]
            if tail.count("\n") == 1:  # one line right after an empty one: the identifier
                identifier = tail[:-1]
        if previous is not None:
            cues.add(previous, body, previous_identifier)
        previous, previous_identifier = _webvtt_timing(text, start, end, cues), identifier
        before = end + 1
    if previous is not None:
        cues.add(previous, _first_block(text[before:]), previous_identifier)


def _webvtt_timing(text: str, start: int, end: int, cues: _Cues) -> _Timing:
    match = _VTT_TIMING.match(text, start, end)
    begin = finish = None
    if match is not None:
        begin = _vtt_ms(*match.group(1, 2, 3, 4))
        finish = _vtt_ms(*match.group(5, 6, 7, 8))
    if match is None or begin is None or finish is None:
        raise cues.refuse_timing(start)
    return _Timing(begin, finish, _settings(match[9]), start)


def _looks_like_srt(text: str) -> bool:
    first, _, rest = text.lstrip().partition("\n")
    first = first.strip()
    if _SRT_TIMING.fullmatch(first):
        return True
    second = rest.partition("\n")[0].strip()
    return _is_counter(first) and _SRT_TIMING.fullmatch(second) is not None


def _is_counter(line: str) -> bool:
    return line.isascii() and line.isdigit()


_BLANK_LINE = re.compile(r"^[^\S\n]*(?:\n|\Z)", re.MULTILINE)


def _srt_text(chunk: str, *, counter_follows: bool) -> str:
    """Cue text: blank lines collapse; the last line is the next cue's counter, if digits."""
    if counter_follows:
        last = chunk[:-1].rpartition("\n")[2]
        if _is_counter(last.strip()):
            chunk = chunk[: len(chunk) - len(last) - 1]
    return _BLANK_LINE.sub("", chunk).removesuffix("\n")


def _parse_srt(text: str, cues: _Cues) -> None:
    """Cues anchored on their timing lines; every line holding ``-->`` must be one."""
    previous: _Timing | None = None
    before = 0
    for start, end in _arrow_lines(text, 0):
        match = _SRT_TIMING.fullmatch(text[start:end].strip())
        begin = finish = None
        if match is not None:
            begin = _ms(*match.group(1, 2, 3, 4))
            finish = _ms(*match.group(5, 6, 7, 8))
        if begin is None or finish is None:
            raise cues.refuse_timing(start)
        if previous is not None:
            cues.add(previous, _srt_text(text[before:start], counter_follows=True))
        previous = _Timing(begin, finish, "", start)
        before = end + 1
    if previous is not None:
        cues.add(previous, _srt_text(text[before:], counter_follows=False))


# --- cue settings -----------------------------------------------------------------------

_SETTING_ORDER = ("vertical", "line", "position", "size", "align")
_MAX_SETTING_CHARS = 64
_BLANKS = re.compile(r"[ \t]+")
_PERCENTAGE = re.compile(r"[0-9]+(?:\.[0-9]+)?%", re.ASCII)
_LINE_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _percentage(value: str) -> bool:
    return _PERCENTAGE.fullmatch(value) is not None and float(value[:-1]) <= 100


def _line_setting(value: str) -> bool:
    position, comma, alignment = value.partition(",")
    if comma and alignment not in ("start", "center", "end"):
        return False
    if position.endswith("%"):
        return _percentage(position)
    return _LINE_NUMBER.fullmatch(position) is not None


def _position_setting(value: str) -> bool:
    position, comma, alignment = value.partition(",")
    if comma and alignment not in ("line-left", "center", "line-right"):
        return False
    return _percentage(position)


_SETTING_CHECKS: dict[str, Callable[[str], bool]] = {
    "vertical": lambda value: value in ("rl", "lr"),
    "line": _line_setting,
    "position": _position_setting,
    "size": _percentage,
    "align": lambda value: value in ("start", "center", "end", "left", "right"),
}


def _settings(remainder: str) -> str:
    """Valid settings in a fixed order, the last of a name winning (regions are dropped)."""
    found: dict[str, str] = {}
    for token in _BLANKS.split(remainder):
        name, colon, value = token.partition(":")
        check = _SETTING_CHECKS.get(name)
        if colon and check is not None and len(token) <= _MAX_SETTING_CHARS and check(value):
            found[name] = value
    return " ".join(f"{name}:{found[name]}" for name in _SETTING_ORDER if name in found)


# --- cue text ---------------------------------------------------------------------------

_NAMES = "(?i:c|i|b|u|ruby|rt|v|lang)"
_ENTITY_REST = (
    "(?:(?P<name>[A-Za-z][A-Za-z0-9]{0,31})|#(?P<dec>[0-9]{1,7})|#[xX](?P<hex>[0-9A-Fa-f]{1,6}));"
)
_TAG_REST = "[A-Za-z0-9][^<>\n]*>"  # after "<" or "</": a tag ends on its own line
_ASS_REST = r"\\[^{}\n]*\}"  # after "{": an ASS override block such as {\an8}
# Tags WebVTT does not know and ASS override blocks. They become a NUL first (NULs were
# removed on decoding; no token below may hold one), so that removing them cannot join
# "<" and "i>", or "<v A" and ">", into a tag that was not there.
_JUNK = re.compile(
    rf"<(?=/?[A-Za-z])(?!/?{_NAMES}[.\t >])/?{_TAG_REST}|</(?=[0-9]){_TAG_REST}|\{{{_ASS_REST}",
    re.ASCII,
)
_REMOVED = "\0"
# The markup that may survive; the text between two matches is literal and gets escaped
# (a "<" or "&" that opens none of these is text, where a WebVTT parser would drop it).
# Every branch starts with "<" or "&", which lets the search skip plain text in C.
_TOKEN = re.compile(
    "<(?=/?[A-Za-z0-9])(?:"
    # a tag WebVTT knows ("rest" holds classes and an annotation)
    rf"(?P<end>/?)(?P<tagname>{_NAMES})(?P<rest>[.\t ][^<>\n\0]*)?>"
    # an inner timestamp, checked later
    r"|(?P<stamp>[0-9][^<>\n\0]*)>"
    ")"
    rf"|&(?P<entity>{_ENTITY_REST})",
    re.ASCII,
)
_IDENTIFIER_DROP = re.compile(r"[<>&\x00-\x1f\x7f]")
_VOICE_DROP = re.compile(r"[=\"`<>/]")
_ANNOTATION_PIECE = re.compile(rf"&(?:{_ENTITY_REST})?|\\", re.ASCII)
_CLASS = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)
_KEPT_ENTITIES = frozenset({"amp", "lt", "gt", "lrm", "rlm", "nbsp"})
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\\": "&#92;"}


def _escape(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A backslash too: removed markup may have joined "{" and "\", and a stored "{\...}"
    # would be removed the next time the file is read (output must read back unchanged).
    return escaped.replace("\\", "&#92;")


def _printable(text: str) -> bool:
    return not any(ord(ch) in _CONTROLS or ch == "\n" for ch in text)


def _entity(match: re.Match[str]) -> str:
    name, dec, hexa = match["name"], match["dec"], match["hex"]
    if name is not None:
        if name in _KEPT_ENTITIES:
            return match[0]
        named = html.entities.html5.get(name + ";")
        if named is not None and _printable(named):
            return _escape(named)
        return "&amp;" + match[0][1:]
    code = int(dec) if dec is not None else int(hexa, 16)
    if 0x80 <= code <= 0x9F:  # HTML reads these as Windows-1252 ("&#150;" is a dash)
        try:
            return f"&#{ord(bytes([code]).decode('cp1252'))};"
        except UnicodeDecodeError:
            return ""
    if code in (0x09, 0x0A) or (
        0x20 <= code <= 0x10FFFF and code != 0x7F and not 0xD800 <= code <= 0xDFFF
    ):
        return match[0]
    return ""


def _annotation_piece(match: re.Match[str]) -> str:
    piece = match[0]
    return _entity(match) if len(piece) > 1 else _ESCAPES[piece]


class _CueText:
    """Sanitised cue text being written, within :data:`MAX_CUE_CHARS` with tags closed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.room = MAX_CUE_CHARS  # what is left once the open tags' end tags are counted
        self.open: list[str] = []
        self.visible = False
        self._full = False

    def is_full(self) -> bool:
        return self._full

    def put(self, piece: str) -> None:
        if len(piece) > self.room:
            self._full = True
            return
        self.parts.append(piece)
        self.room -= len(piece)

    def text(self, raw: str) -> None:
        raw = raw.replace(_REMOVED, "")
        escaped = _escape(raw)
        if len(escaped) > self.room:  # cut the raw text, so no entity is split
            cut, room = 0, self.room
            for char in raw[: self.room]:
                room -= len(_ESCAPES.get(char, char))
                if room < 0:
                    break
                cut += 1
            raw, escaped, self._full = raw[:cut], _escape(raw[:cut]), True
        self.parts.append(escaped)
        self.room -= len(escaped)
        self.visible = self.visible or bool(raw.strip())

    def start_tag(self, name: str, tag: str) -> None:
        if len(tag) + len(name) + 3 > self.room:
            self._full = True
            return
        self.parts.append(tag)
        self.room -= len(tag) + len(name) + 3
        self.open.append(name)

    def end_tag(self, name: str) -> None:
        if self.open and self.open[-1] == name:
            self._close()
        elif name == "ruby" and self.open[-2:] == ["ruby", "rt"]:
            self._close()
            self._close()

    def _close(self) -> None:
        self.parts.append(f"</{self.open.pop()}>")  # its room was kept when it opened

    def finish(self) -> str | None:
        while self.open:
            self._close()
        if not self.visible:
            return None
        # An empty line would end the cue: drop lines left blank by removed markup.
        lines = "".join(self.parts).split("\n")
        return "\n".join(line for line in lines if line.strip(" \t"))


def _sanitise(text: str) -> str | None:
    """Cue text reduced to WebVTT's own markup, or None when nothing visible is left."""
    out = _CueText()
    position = 0
    text = _JUNK.sub(_REMOVED, text)
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        if start > position:
            out.text(text[position:start])
            if out.is_full():
                break
        position = end
        if match["tagname"] is not None:
            _tag(out, match)
        elif match["entity"] is not None:
            piece = _entity(match)
            if piece:
                out.put(piece)
                out.visible = True
        elif match["stamp"] is not None:
            stamp = _VTT_STAMP_RE.fullmatch(match["stamp"])
            ms = _vtt_ms(*stamp.group(1, 2, 3, 4)) if stamp is not None else None
            if ms is not None and ms <= _MAX_MS:
                out.put(f"<{_format_ms(ms)}>")
        if out.is_full():
            break
    else:
        if position < len(text):
            out.text(text[position:])
    return out.finish()


def _tag(out: _CueText, match: re.Match[str]) -> None:
    name = match["tagname"].lower()
    if match["end"]:
        out.end_tag(name)
        return
    if name == "rt" and out.open[-1:] != ["ruby"]:
        return  # ruby text belongs inside ruby only
    rest = match["rest"] or ""
    if len(rest) > MAX_CUE_CHARS:
        return  # could not fit in the cue anyway
    classes, _, annotation = _BLANKS.sub(" ", rest).partition(" ")
    annotation = annotation.strip(" ")
    if name == "v":
        # A speaker's name, nothing that could pass for an attribute in a player that
        # puts cue text into HTML.
        annotation = _ANNOTATION_PIECE.sub(_annotation_piece, annotation)
        annotation = _VOICE_DROP.sub("", annotation).strip(" ")
        if not annotation:
            return
    elif name == "lang":
        if _LANGUAGE.fullmatch(annotation) is None:
            return
    else:
        annotation = ""
    tag = "<" + name + "".join("." + c for c in classes.split(".")[1:] if _CLASS.fullmatch(c))
    if annotation:
        tag += " " + annotation
    # "-" right before ">" could form "-->", which would end the cue; WebVTT trims the space.
    out.start_tag(name, tag + (" >" if tag.endswith("-") else ">"))
