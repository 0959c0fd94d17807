"""Captions and reprocessing through the real ``serve`` command and real ffmpeg: an
uploaded SRT and a subtitle stream inside the source both reach ffmpeg through the signed
master playlist, at the right times; reprocessing swaps renditions with no moment at
which the video cannot be played."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from bench import clips as media_clips

from tests.integration.served import API, Served, sign_up, upload_video

FAST_MEDIA = {
    "VIDEOPLATFORM_X264_PRESET": "ultrafast",
    "VIDEOPLATFORM_HLS_SEGMENT_SECONDS": "1",
    "VIDEOPLATFORM_POSTER_WIDTHS": "320",
}
SRT = (
    "1\n00:00:01,000 --> 00:00:02,000\nHello from the SRT\n\n"
    "2\n00:00:02,500 --> 00:00:03,500\n<b>Second</b> cue\n"
)
CUE = re.compile(r"(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2})\.(\d{3})\n(.+)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = Served(tmp_path_factory.mktemp("captions"), env=FAST_MEDIA)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("clip")
    return media_clips.clip(folder, "clip.mp4", width=320, height=180, duration=4.0).read_bytes()


def wait_ready(http: httpx.Client, me: dict[str, str], video_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = http.get(f"{API}/videos/{video_id}/progress", headers=me).json()
        if (state["status"] == "ready" and not state["reprocessing"]) or state[
            "status"
        ] == "failed":
            break
        time.sleep(0.2)
    assert state["status"] == "ready" and not state["reprocessing"], state
    return state


def master_url(served: Served, http: httpx.Client, me: dict[str, str], video_id: str) -> str:
    issued = http.get(f"{API}/videos/{video_id}/playback", headers=me)
    assert issued.status_code == 200, issued.text
    path: str = urlsplit(issued.json()["master_url"]).path
    return served.url + path


def ffmpeg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [media_clips.ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def cues_read_by_ffmpeg(url: str) -> list[tuple[float, float, str]]:
    """The subtitle stream of the HLS presentation at ``url`` as ffmpeg reads it, cue
    times relative to the start of the presentation."""
    done = ffmpeg("-loglevel", "error", "-i", url, "-map", "0:s:0", "-f", "webvtt", "-")
    assert done.returncode == 0, done.stderr

    def seconds(m: str, s: str, ms: str) -> float:
        return int(m) * 60 + int(s) + int(ms) / 1000

    return [
        (seconds(*m.group(1, 2, 3)), seconds(*m.group(4, 5, 6)), m.group(7))
        for m in CUE.finditer(done.stdout)
    ]


def test_an_uploaded_srt_plays_in_ffmpeg_through_the_signed_master_playlist(
    served: Served, clip: bytes
) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        me = sign_up(http)
        video_id = upload_video(http, me, clip, "Captioned")
        wait_ready(http, me, video_id)
        added = http.put(
            f"{API}/videos/{video_id}/captions/en",
            content=SRT.encode(),
            headers={**me, "Content-Type": "application/x-subrip"},
        )
        assert added.status_code == 201, added.text
        url = master_url(served, http, me, video_id)
        master = http.get(url).text
        assert 'TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en"' in master

    probe = ffmpeg("-i", url)
    streams = [line for line in probe.stderr.splitlines() if "Stream #" in line]
    assert any("(en)" in line and "Subtitle: webvtt" in line for line in streams), probe.stderr
    assert any("Video: h264" in line for line in streams)
    assert any("Audio: aac" in line for line in streams)
    played = ffmpeg(
        "-loglevel", "error", "-i", url, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"
    )
    assert played.returncode == 0, played.stderr

    cues = cues_read_by_ffmpeg(url)
    assert [text for _, _, text in cues] == ["Hello from the SRT", "<b>Second</b> cue"]
    # ffmpeg places the cues on the video's own timeline: where the SRT said.
    for (start, end, _), (want_start, want_end) in zip(cues, [(1.0, 2.0), (2.5, 3.5)], strict=True):
        assert abs(start - want_start) < 0.05 and abs(end - want_end) < 0.05, cues


def test_a_subtitle_stream_inside_the_source_becomes_a_track(
    served: Served, tmp_path: Path
) -> None:
    source = media_clips.clip(tmp_path, "plain.mp4", width=320, height=180, duration=3.0)
    subtitles = tmp_path / "subs.srt"
    # ffmpeg's HLS demuxer drops cues in the first 0.75 s or so of a presentation (the
    # same WebVTT from any server): the cue starts later so ffmpeg can be the judge.
    subtitles.write_text("1\n00:00:01,000 --> 00:00:02,000\nEmbedded words\n")
    muxed = tmp_path / "muxed.mp4"
    made = ffmpeg(
        "-loglevel", "error", "-i", str(source), "-i", str(subtitles),
        "-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text",
        "-metadata:s:s:0", "language=fre", str(muxed),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=served.url, timeout=30) as http:
        me = sign_up(http)
        video_id = upload_video(http, me, muxed.read_bytes(), "With subtitles inside")
        wait_ready(http, me, video_id)
        tracks = http.get(f"{API}/videos/{video_id}/captions", headers=me).json()
        assert [(t["language"], t["origin"], t["cue_count"]) for t in tracks] == [
            ("fr", "embedded", 1)
        ]
        url = master_url(served, http, me, video_id)
    cues = cues_read_by_ffmpeg(url)
    assert [text for _, _, text in cues] == ["Embedded words"]
    assert abs(cues[0][0] - 1.0) < 0.05 and abs(cues[0][1] - 2.0) < 0.05, cues


def test_reprocessing_swaps_renditions_with_no_moment_unplayable(
    served: Served, clip: bytes
) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as http:
        me = sign_up(http)
        video_id = upload_video(http, me, clip, "Processed twice")
        wait_ready(http, me, video_id)
        first = master_url(served, http, me, video_id)

        failures: list[str] = []
        reissued: list[int] = []
        plays: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            """A viewer that keeps starting playback: issue URLs, fetch the master, a
            variant and its first segment; URLs that went stale between issuing and
            fetching are issued again once, and must then work."""
            with httpx.Client(base_url=served.url, timeout=30) as viewer:
                while not stop.is_set():
                    for attempt in (1, 2):
                        url = master_url(served, viewer, me, video_id)
                        master = viewer.get(url)
                        if master.status_code == 403 and attempt == 1:
                            reissued.append(1)
                            continue
                        variant_url = urljoin(url, master.text.splitlines()[-1])
                        variant = viewer.get(variant_url)
                        names = [n for n in variant.text.splitlines() if n and n[0] != "#"]
                        segment = viewer.get(urljoin(variant_url, names[0])) if names else None
                        codes = (master.status_code, variant.status_code)
                        if segment is None or (*codes, segment.status_code) != (200, 200, 200):
                            if attempt == 1 and 403 in (*codes, getattr(segment, "status_code", 0)):
                                reissued.append(1)
                                continue
                            failures.append(f"{codes} {segment and segment.status_code}")
                        else:
                            plays.append(time.monotonic())
                        break

        viewer = threading.Thread(target=watch)
        viewer.start()
        try:
            time.sleep(0.3)
            asked_at = time.monotonic()
            asked = http.post(f"{API}/videos/{video_id}/reprocess", headers=me)
            assert asked.status_code == 202, asked.text
            assert asked.json()["reprocessing"] is True
            wait_ready(http, me, video_id)
            ready_at = time.monotonic()
            time.sleep(0.5)
        finally:
            stop.set()
            viewer.join(60)
        assert failures == []
        # The viewer played while the new renditions were made, and after the swap.
        assert any(asked_at < t < ready_at for t in plays), (asked_at, ready_at, plays)
        assert any(t > ready_at for t in plays)
        assert http.get(first).status_code == 403  # the old outputs are gone
        latest = master_url(served, http, me, video_id)
        assert http.get(latest).status_code == 200
        played = ffmpeg("-loglevel", "error", "-i", latest, "-f", "null", "-")
        assert played.returncode == 0, played.stderr
