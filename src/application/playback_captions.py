"""Captions in HLS: the master playlist lists a video's caption tracks as a ``SUBTITLES``
rendition group (RFC 8216 §4.3.4.1), each track gets a one-segment media playlist, and
its WebVTT is placed on the renditions' timeline. All of it is written when served, from
the stored master and the tracks as they are now, so adding, replacing or deleting a
track never rewrites the outputs of processing."""

from __future__ import annotations

import math
from collections.abc import Sequence

from videoplatform.domain.captions import CaptionKind, CaptionTrack, shift_cues

GROUP = "subs"
CAPTIONS_DIR = "captions/"
# What Apple's players read to offer a track to viewers who cannot hear the sound.
_ACCESSIBLE = (
    'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,'
    'public.accessibility.describes-music-and-sound"'
)


def track_playlist_path(track: CaptionTrack) -> str:
    return f"{CAPTIONS_DIR}{track.language}.m3u8"


def track_text_path(track: CaptionTrack) -> str:
    return f"{CAPTIONS_DIR}{track.language}.vtt"


def caption_language(path: str, suffix: str) -> str | None:
    """The language a ``captions/<language><suffix>`` playback path names, else None."""
    if path.startswith(CAPTIONS_DIR) and path.endswith(suffix):
        name = path[len(CAPTIONS_DIR) : -len(suffix)]
        return name if name and "/" not in name else None
    return None


def with_subtitles(master: str, tracks: Sequence[CaptionTrack]) -> str:
    """``master`` with one ``EXT-X-MEDIA`` line per track and every variant pointing at
    their group. A player selects none by default (``DEFAULT=NO``); it may pick one in
    the viewer's language (``AUTOSELECT=YES``)."""
    if not tracks:
        return master
    media = [
        "#EXT-X-MEDIA:TYPE=SUBTITLES,"
        f'GROUP-ID="{GROUP}",NAME="{track.label}",LANGUAGE="{track.language}",'
        "DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,"
        + (f"{_ACCESSIBLE}," if track.kind is CaptionKind.CAPTIONS else "")
        + f'URI="{track_playlist_path(track)}"'
        for track in tracks
    ]
    lines = master.splitlines()
    out: list[str] = []
    inserted = False
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF:"):
            if not inserted:
                out += media
                inserted = True
            line = f'{line},SUBTITLES="{GROUP}"'
        out.append(line)
    if not inserted:  # no variant to attach them to: leave the playlist as it was
        return master
    return "\n".join(out) + "\n"


def subtitle_playlist(track: CaptionTrack, duration_seconds: float) -> str:
    """A media playlist of one WebVTT segment spanning the whole video."""
    duration = max(duration_seconds, 0.001)
    return (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        f"#EXT-X-TARGETDURATION:{math.ceil(duration)}\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        f"#EXTINF:{duration:.3f},\n"
        f"{track.language}.vtt\n"
        "#EXT-X-ENDLIST\n"
    )


MPEG_TS_START = 126_000
"""Where ffmpeg's MPEG-TS muxer starts a timeline (1.4 s at 90 kHz): assumed for outputs
made before processing recorded their start (``timeline_pts`` 0)."""


def on_timeline(webvtt: str, timeline_pts: int) -> str:
    """The track's WebVTT with cue times on the renditions' timeline (which starts at
    ``timeline_pts``, 90 kHz) and the mapping players expect stated: MPEG-TS time 0 is
    cue time 0, so a cue at t plays at the segments' presentation time t."""
    shifted = shift_cues(webvtt, (timeline_pts or MPEG_TS_START) / 90_000)
    first, _, rest = shifted.partition("\n")
    return f"{first}\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n{rest}"
