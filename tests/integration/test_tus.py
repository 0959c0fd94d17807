"""Resumable uploads against the real ``serve`` command with a real tus client (tuspy):
uploads cut off at random offsets, by a client that stops or a connection dropped in
the middle of a PATCH body, resume and end as a video or file with the exact SHA-256
of the original."""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import imageio_ffmpeg
import pytest
from tusclient import client as tus

from tests.integration.served import CHEAP_ARGON2, EXE, Served

API = "/api/v1"
PASSWORD = "a long passphrase"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(tmp_path_factory.mktemp("tus"))
    try:
        yield served
    finally:
        served.stop()


def cli(server: Served, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOPLATFORM_")}
    env = {**clean, **CHEAP_ARGON2, "VIDEOPLATFORM_DATA_DIR": str(server.folder / "data")}
    return subprocess.run(
        [EXE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=server.folder,
        env=env,
        timeout=60,
        check=False,
    )


def login(server: Served, email: str) -> dict[str, str]:
    session = httpx.post(
        f"{server.url}{API}/auth/session", json={"email": email, "password": PASSWORD}
    )
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


@pytest.fixture(scope="module")
def creator(server: Served) -> dict[str, str]:
    registered = httpx.post(
        f"{server.url}{API}/auth/register",
        json={"email": "tus@example.com", "password": PASSWORD, "display_name": "Tus"},
    )
    assert registered.status_code == 202, registered.text
    return login(server, "tus@example.com")


@pytest.fixture(scope="module")
def admin(server: Served) -> dict[str, str]:
    made = cli(server, "createadmin", "--email", "root@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    return login(server, "root@example.com")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two seconds of test pattern with a tone as MP4: a real video of some size."""
    target = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=15:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-shortest", "-pix_fmt", "yuv420p", str(target)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return target.read_bytes()


def offset_of(server: Served, headers: dict[str, str], url: str) -> int:
    head = httpx.head(url, headers={**headers, "Tus-Resumable": "1.0.0"})
    assert head.status_code == 200, head.headers
    return int(head.headers["Upload-Offset"])


def cut_patch(url: str, headers: dict[str, str], offset: int, body: bytes, sent: int) -> None:
    """A PATCH whose connection dies after ``sent`` of ``len(body)`` bytes."""
    parts = urlsplit(url)
    lines = [
        f"PATCH {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as conn:
        conn.sendall("\r\n".join(lines).encode("latin-1") + body[:sent])
        conn.shutdown(socket.SHUT_WR)  # the client is gone mid-body


def interrupted_upload(
    server: Served,
    headers: dict[str, str],
    data: bytes,
    metadata: dict[str, str],
    seed: int,
) -> str:
    """Upload ``data`` with tuspy, cut off at several random offsets, each time resumed
    from the offset the server reports. Returns the Upload-Result of the finished upload."""
    rng = random.Random(seed)  # noqa: S311 - reproducible cut points, not secrets
    client = tus.TusClient(f"{server.url}{API}/uploads", headers=headers)
    stream = io.BytesIO(data)
    uploader = client.uploader(
        file_stream=stream, chunk_size=rng.randint(4_000, 12_000), metadata=metadata,
        upload_checksum=True,
    )  # fmt: skip
    url = uploader.create_url()  # creation; tuspy would otherwise create on the first chunk
    uploader.set_url(url)
    assert url.startswith(f"{server.url}{API}/uploads/")
    for n, cut in enumerate(sorted(rng.sample(range(1, len(data)), 4))):
        offset = offset_of(server, headers, url)
        if cut <= offset:
            continue
        if n % 2 == 0:
            # The client stops after ``cut`` bytes, as a closed laptop would.
            uploader.upload(stop_at=cut)
            assert offset_of(server, headers, url) == cut
        else:
            # The connection drops in the middle of a PATCH body: nothing of it is kept.
            rest = data[offset:]
            cut_patch(url, headers, offset, rest, cut - offset)
            assert offset_of(server, headers, url) == offset
        # A new client process resumes from whatever the server reports.
        stream = io.BytesIO(data)
        uploader = client.uploader(
            file_stream=stream, url=url, chunk_size=rng.randint(4_000, 12_000)
        )
    uploader.upload()
    done = httpx.head(url, headers={**headers, "Tus-Resumable": "1.0.0"})
    assert int(done.headers["Upload-Offset"]) == len(data)
    result: str = done.headers["Upload-Result"]
    return result


@pytest.mark.parametrize("seed", [1, 2])
def test_a_video_cut_off_at_random_offsets_resumes_to_the_exact_bytes(
    server: Served,
    creator: dict[str, str],
    admin: dict[str, str],
    clip: bytes,
    seed: int,
) -> None:
    result = interrupted_upload(
        server, creator, clip, {"kind": "video", "title": f"Resumed {seed}"}, seed
    )
    assert result.startswith(f"{API}/videos/")
    video = httpx.get(server.url + result, headers=creator)
    assert video.status_code == 200
    assert video.json()["title"] == f"Resumed {seed}"
    assert video.json()["size"] == len(clip)
    # The source's SHA-256 is in the audit trail that moderators read over the API.
    trail = httpx.get(
        f"{server.url}{API}/audit",
        params={"action": "video.upload", "resource_id": video.json()["id"]},
        headers=admin,
    )
    assert trail.status_code == 200, trail.text
    (event,) = trail.json()["items"]
    assert event["metadata"]["sha256"] == hashlib.sha256(clip).hexdigest()


def test_a_file_cut_off_at_random_offsets_resumes_to_the_exact_bytes(
    server: Served, creator: dict[str, str]
) -> None:
    data = random.Random(7).randbytes(150_000)  # noqa: S311 - test bytes, not secrets
    result = interrupted_upload(
        server, creator, data, {"kind": "file", "filename": "noise.bin", "folder": "/tus"}, 7
    )
    assert result.startswith(f"{API}/files/")
    stored = httpx.get(server.url + result, headers=creator)
    assert stored.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert (stored.json()["name"], stored.json()["folder"]) == ("noise.bin", "/tus")
    content = httpx.get(f"{server.url}{result}/content", headers=creator)
    assert content.content == data


def test_the_sweep_command_reports_what_it_removed(server: Served) -> None:
    # What a server killed in the middle of an upload leaves: a temporary file, older
    # than an upload may take, alone in its video's folder.
    folder = server.folder / "data" / "objects" / "videos" / "01KILLEDMIDUPLOAD000000000"
    folder.mkdir(parents=True)
    leftover = folder / ".incoming-x1y2z3.part"
    leftover.write_bytes(b"half a video")
    long_ago = time.time() - 3 * 24 * 3600
    os.utime(leftover, (long_ago, long_ago))

    swept = cli(server, "uploads", "sweep")

    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines() == [
        "removed 0 expired upload(s)",
        "removed 1 partial write(s) left in storage by interrupted uploads",
    ]
    assert not folder.exists()


def test_an_unfinished_upload_can_be_terminated(server: Served, creator: dict[str, str]) -> None:
    client = tus.TusClient(f"{server.url}{API}/uploads", headers=creator)
    uploader = client.uploader(
        file_stream=io.BytesIO(b"x" * 10_000), chunk_size=4_000,
        metadata={"kind": "file", "filename": "dropped.bin"},
    )  # fmt: skip
    url = uploader.create_url()
    uploader.set_url(url)
    uploader.upload(stop_at=4_000)
    assert offset_of(server, creator, url) == 4_000
    gone = httpx.delete(url, headers={**creator, "Tus-Resumable": "1.0.0"})
    assert gone.status_code == 204
    assert httpx.head(url, headers={**creator, "Tus-Resumable": "1.0.0"}).status_code == 404
