"""Caption and subtitle tracks of a video: one per language, uploaded by its owner (WebVTT
or SRT, see :mod:`.caption_text`) or found in the source by processing. Players list
them in the master playlist's ``SUBTITLES`` group and fetch them through the signed
playback paths."""

from __future__ import annotations

import enum
import re
from datetime import datetime

from attrs import define

from videoplatform.domain.aggregate import Aggregate
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import CaptionId, VideoId

MAX_TRACKS = 30
"""Tracks a video may have: a player's menu stays usable, storage stays bounded."""
MAX_LABEL = 80

# BCP 47 as players use it: a primary language (2-3 letters, or "und") and up to three
# subtags (script, region, variant). Case is normalised: "pt-br" becomes "pt-BR".
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}")

# ISO 639-2 codes that sources carry (ffmpeg reports "eng", "fre"...) for languages
# with a two-letter code, which BCP 47 prefers.
_TWO_LETTER = {
    "ara": "ar", "ben": "bn", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs",
    "chi": "zh", "zho": "zh", "dan": "da", "deu": "de", "ger": "de", "ell": "el",
    "gre": "el", "eng": "en", "est": "et", "fas": "fa", "per": "fa", "fin": "fi",
    "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu",
    "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "lav": "lv", "lit": "lt",
    "msa": "ms", "may": "ms", "nld": "nl", "dut": "nl", "nor": "no", "nob": "nb",
    "nno": "nn", "pol": "pl", "por": "pt", "ron": "ro", "rum": "ro", "rus": "ru",
    "slk": "sk", "slo": "sk", "slv": "sl", "spa": "es", "srp": "sr", "swe": "sv",
    "tam": "ta", "tha": "th", "tur": "tr", "ukr": "uk", "urd": "ur", "vie": "vi",
}  # fmt: skip

_NAMES = {
    "ar": "العربية", "bg": "Български", "ca": "Català", "cs": "Čeština", "da": "Dansk",
    "de": "Deutsch", "el": "Ελληνικά", "en": "English", "es": "Español", "et": "Eesti",
    "fa": "فارسی", "fi": "Suomi", "fr": "Français", "he": "עברית", "hi": "हिन्दी",
    "hr": "Hrvatski", "hu": "Magyar", "id": "Bahasa Indonesia", "it": "Italiano",
    "ja": "日本語", "ko": "한국어", "lt": "Lietuvių", "lv": "Latviešu", "nb": "Norsk bokmål",
    "nl": "Nederlands", "nn": "Norsk nynorsk", "no": "Norsk", "pl": "Polski",
    "pt": "Português", "ro": "Română", "ru": "Русский", "sk": "Slovenčina",
    "sl": "Slovenščina", "sr": "Српски", "sv": "Svenska", "th": "ไทย", "tr": "Türkçe",
    "uk": "Українська", "vi": "Tiếng Việt", "zh": "中文", "und": "Unknown language",
}  # fmt: skip


class CaptionKind(enum.Enum):
    SUBTITLES = "subtitles"  # the dialogue, translated or not
    CAPTIONS = "captions"  # dialogue and sounds, for viewers who cannot hear them


class CaptionOrigin(enum.Enum):
    UPLOADED = "uploaded"  # by the owner or a moderator
    EMBEDDED = "embedded"  # extracted from the source by processing


def normalize_language(raw: str) -> str:
    """A language tag in the form players expect ("en", "pt-BR", "zh-Hant"); two-letter
    codes replace the three-letter ones sources carry. ValidationError otherwise."""
    tag = raw.strip()
    if not _LANGUAGE.fullmatch(tag):
        raise ValidationError.field(
            "language", "must be a language tag such as en, pt-BR or zh-Hant"
        )
    primary, *rest = tag.split("-")
    primary = primary.lower()
    primary = _TWO_LETTER.get(primary, primary)
    subtags = [s.upper() if len(s) == 2 else s.title() if len(s) == 4 else s for s in rest]
    return "-".join([primary, *subtags])


def default_label(language: str) -> str:
    """What a player's menu shows when the uploader named no label."""
    primary = language.split("-")[0]
    name = _NAMES.get(primary)
    if name is None:
        return language
    return name if primary == language else f"{name} ({language})"


def clean_label(raw: str | None, language: str) -> str:
    if raw is None or not raw.strip():
        return default_label(language)
    label = " ".join(raw.split())
    if len(label) > MAX_LABEL or any(ord(c) < 32 or c in '"\\' for c in label):
        raise ValidationError.field(
            "label", f"must be at most {MAX_LABEL} characters, without quotes or backslashes"
        )
    return label


@define(eq=False, kw_only=True)
class CaptionTrack(Aggregate):
    """One language's captions of a video, stored as sanitised WebVTT at
    ``storage_key`` (a new key for each version: replacing never overwrites)."""

    id: CaptionId
    video_id: VideoId
    language: str
    label: str
    kind: CaptionKind = CaptionKind.SUBTITLES
    origin: CaptionOrigin = CaptionOrigin.UPLOADED
    storage_key: str
    cue_count: int
    size: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def new(
        cls,
        *,
        id: CaptionId,
        video_id: VideoId,
        language: str,
        label: str,
        kind: CaptionKind,
        origin: CaptionOrigin,
        storage_key: str,
        cue_count: int,
        size: int,
        now: datetime,
    ) -> CaptionTrack:
        return cls(
            id=id,
            video_id=video_id,
            language=language,
            label=label,
            kind=kind,
            origin=origin,
            storage_key=storage_key,
            cue_count=cue_count,
            size=size,
            created_at=now,
            updated_at=now,
        )

    def replace(
        self,
        *,
        label: str,
        kind: CaptionKind,
        origin: CaptionOrigin,
        storage_key: str,
        cue_count: int,
        size: int,
        now: datetime,
    ) -> str:
        """Take a new version; the storage key of the old one (to remove after commit)."""
        old = self.storage_key
        self.label, self.kind, self.origin = label, kind, origin
        self.storage_key, self.cue_count, self.size = storage_key, cue_count, size
        self.updated_at = now
        return old


# Canonical WebVTT (as caption_text writes it) carries "-->" only on timing lines (cue
# text has it escaped) and timestamps in text only as tags such as <00:00:01.500>.
_TIMESTAMP = re.compile(r"(\d{2,}):(\d{2}):(\d{2})\.(\d{3})", re.ASCII)
_INNER = re.compile(r"<(\d{2,}):(\d{2}):(\d{2})\.(\d{3})>", re.ASCII)


def _format(millis: int) -> str:
    seconds, ms = divmod(max(0, millis), 1000)
    minutes, s = divmod(seconds, 60)
    h, m = divmod(minutes, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def shift_cues(webvtt: str, seconds: float) -> str:
    """Canonical WebVTT with every cue time moved ``seconds`` later: captions written
    from 0 placed on a rendition timeline that starts at ``seconds`` (MPEG-TS segments
    start at about 1.4 s). Players and ffmpeg both read cue times on that timeline."""
    offset = round(seconds * 1000)
    if offset == 0:
        return webvtt

    def moved(match: re.Match[str]) -> str:
        h, m, s, ms = (int(g) for g in match.groups())
        return _format(((h * 60 + m) * 60 + s) * 1000 + ms + offset)

    def moved_tag(match: re.Match[str]) -> str:
        return f"<{moved(match)}>"

    lines = webvtt.split("\n")
    for number, line in enumerate(lines):
        if "-->" in line:
            lines[number] = _TIMESTAMP.sub(moved, line)
        elif "<" in line:
            lines[number] = _INNER.sub(moved_tag, line)
    return "\n".join(lines)
