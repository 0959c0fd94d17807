"""Playback over HTTP: signed URLs for a ready video's outputs, fetched the way a player
does (relative URIs resolved against the playlist's URL), and every way access ends."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import falcon.testing
import pytest

from tests.unit.conftest import MP4_HEAD
from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.system import ManualClock
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.context import Caller
from videoplatform.application.files import StoreFile
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.shares import CreateShare
from videoplatform.application.video_commands import UpdateVideo, UploadVideo
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import (
    MediaInfo,
    PlaybackAssets,
    Poster,
    Rendition,
    Storyboard,
    Visibility,
)
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.http.app import HttpOptions, create_app

Client = falcon.testing.TestClient
MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=64x64\n360p/index.m3u8\n"
VARIANT = (
    b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsegment_00000.ts\n"
    b"#EXTINF:2.0,\nsegment_00001.ts\n#EXT-X-ENDLIST\n"
)
MakeVideo = Callable[..., str]
SEGMENT_0 = bytes(range(256)) * 8
SEGMENT_1 = b"\x47" * 1880
POSTER = b"\xff\xd8\xff\xe0poster"
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nsprite.jpg#xywh=0,0,64,36\n"


def publish_outputs(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    storage: ObjectStorage,
    video_id: str,
    prefix: str,
) -> None:
    """Put a tiny HLS ladder, a poster and a storyboard under ``prefix`` and mark the
    video ready with them, as processing would."""
    objects = {
        "master.m3u8": MASTER,
        "360p/index.m3u8": VARIANT,
        "360p/segment_00000.ts": SEGMENT_0,
        "360p/segment_00001.ts": SEGMENT_1,
        "poster_64.jpg": POSTER,
        "storyboard/board.vtt": VTT,
        "storyboard/sprite.jpg": POSTER,
    }
    for path, data in objects.items():
        storage.put(prefix + path, io.BytesIO(data))
    assets = PlaybackAssets(
        prefix=prefix,
        master_playlist="master.m3u8",
        posters=(Poster(64, 64, "poster_64.jpg"),),
        storyboard=Storyboard("storyboard/board.vtt", "storyboard/sprite.jpg", 64, 36, 2.0),
    )
    with uow_factory() as uow:
        video = uow.videos.get(VideoId(video_id))
        if video.assets is None:
            video.start_processing(clock.now())
            video.mark_ready(
                media_info=MediaInfo(4.0, 64, 64, "h264", None, 25.0, 100_000),
                renditions=[Rendition("360p", 64, 64, 100_000, "avc1.42E01E", "360p/index.m3u8")],
                assets=assets,
                now=clock.now(),
            )
        else:  # processed again: the new outputs replace the old ones
            video.assets = assets
        uow.videos.save(video)
        uow.commit()


def as_caller(account: Account) -> Caller:
    return Caller(UserId(account.user_id))


@pytest.fixture
def owner(account: MakeAccount) -> Account:
    return account(Role.CREATOR)


@pytest.fixture
def make_video(
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    storage: MemoryObjectStorage,
    owner: Account,
) -> MakeVideo:
    def make(visibility: Visibility = Visibility.PRIVATE, ready: bool = True) -> str:
        video = platform.videos.upload(
            as_caller(owner),
            UploadVideo("Clip", io.BytesIO(MP4_HEAD + b"source"), visibility=visibility),
        )
        if ready:
            publish_outputs(uow_factory, clock, storage, video.id, f"videos/{video.id}/hls-1/")
        return video.id

    return make


def issue(
    client: Client, video_id: str, who: Account | None = None, **params: str
) -> dict[str, Any]:
    result = client.simulate_get(
        f"/api/v1/videos/{video_id}/playback", headers=who.headers if who else {}, params=params
    )
    assert result.status_code == 200, result.text
    assert result.headers["cache-control"] == "no-store"
    body: dict[str, Any] = result.json
    return body


def fetch(client: Client, url: str, **headers: str) -> falcon.testing.Result:
    """GET a URL as a player would: no login, only the URL."""
    return client.simulate_get(urlsplit(url).path, headers=headers)


def segment_url(client: Client, master_url: str, index: int = 0) -> str:
    """Resolve master → variant → segment exactly as an HLS player does."""
    master = fetch(client, master_url)
    assert master.status_code == 200, master.text
    variant_url = urljoin(master_url, master.text.splitlines()[-1])
    variant = fetch(client, variant_url)
    assert variant.status_code == 200, variant.text
    names = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
    return urljoin(variant_url, names[index])


# -- issuing and following the chain -----------------------------------------------------


def test_the_owner_plays_a_private_video_through_the_signed_chain(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    urls = issue(client, video_id, owner)
    assert urls["video_id"] == video_id
    assert urls["master_url"].startswith("/api/v1/play/")
    assert urls["master_url"].endswith("/master.m3u8")
    assert urls["posters"] == [
        {
            "width": 64,
            "height": 64,
            "url": urls["master_url"][: -len("master.m3u8")] + "poster_64.jpg",
        }
    ]

    master = fetch(client, urls["master_url"])
    assert master.content == MASTER
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert master.headers["cache-control"] == "private, max-age=30"
    assert master.headers["x-content-type-options"] == "nosniff"

    segment = fetch(client, segment_url(client, urls["master_url"], 1))
    assert segment.status_code == 200
    assert segment.content == SEGMENT_1
    assert segment.headers["content-type"] == "video/mp2t"
    assert segment.headers["cache-control"] == "private, max-age=3600"
    assert segment.headers["accept-ranges"] == "bytes"

    board = urls["storyboard"]
    assert fetch(client, board["vtt_url"]).content == VTT
    assert fetch(client, board["sprite_url"]).headers["content-type"] == "image/jpeg"
    assert fetch(client, urls["posters"][0]["url"]).content == POSTER


def test_the_issuing_reply_matches_its_documented_schema(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    document = client.simulate_get("/api/v1/openapi.json").json
    path = f"/api/v1/videos/{video_id}/playback"
    result = client.simulate_get(path, headers=owner.headers)
    Documented(document).check("GET", path, 200, result.json, "application/json")
    assert "/api/v1/play/{token}/{path}" in document["paths"]
    play = document["paths"]["/api/v1/play/{token}/{path}"]["get"]
    assert "security" not in play  # the token is the capability: no login


def test_a_private_video_gives_others_no_urls(
    client: Client, account: MakeAccount, make_video: MakeVideo
) -> None:
    video_id = make_video()
    stranger = account(Role.CREATOR)
    for who in (stranger.headers, {}):
        refused = client.simulate_get(f"/api/v1/videos/{video_id}/playback", headers=who)
        assert refused.status_code == 404
        assert problem_code(refused) == "not_found"


def test_a_video_that_is_not_ready_has_no_playback_yet(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video(ready=False)
    refused = client.simulate_get(f"/api/v1/videos/{video_id}/playback", headers=owner.headers)
    assert refused.status_code == 409
    assert problem_code(refused) == "video_not_ready"


def test_segments_are_unreachable_without_a_valid_signature(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    url = segment_url(client, issue(client, video_id, owner)["master_url"])
    token = urlsplit(url).path.split("/")[4]
    tail = "/360p/segment_00000.ts"
    forged = [
        "x.y",
        "not-a-token",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token.replace(".", ".A", 1),
        token.split(".")[0] + "." + "A" * 43,
    ]
    for bad in forged:
        refused = client.simulate_get(f"/api/v1/play/{bad}{tail}", headers=owner.headers)
        assert refused.status_code == 403, bad
        assert problem_code(refused) == "playback_signature_invalid"
    # The owner's own session does not open the play route either: only the token does.
    untokened = client.simulate_get(f"/api/v1/play{tail}", headers=owner.headers)
    assert problem_code(untokened) == "playback_signature_invalid"
    assert fetch(client, url).content == SEGMENT_0


def test_paths_outside_the_outputs_are_not_found(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    base = issue(client, video_id, owner)["master_url"][: -len("master.m3u8")]
    for path in ("../source.m3u8", "360p/../../x.ts", ".hidden.ts", "master.exe", "nothing.ts"):
        refused = client.simulate_get(urlsplit(base).path + path)
        assert refused.status_code == 404, path
        assert problem_code(refused) in {"playback_asset_not_found", "route_not_found"}, path
        assert "cache-control" not in refused.headers


def test_a_bearer_token_left_in_a_player_does_not_break_playback(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    master_url = issue(client, video_id, owner)["master_url"]
    played = client.simulate_get(
        urlsplit(master_url).path, headers={"Authorization": "Bearer stale-token"}
    )
    assert played.status_code == 200


# -- ranges and conditional requests -------------------------------------------------------


def test_a_segment_answers_ranges_and_conditional_requests(
    client: Client, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    url = segment_url(client, issue(client, video_id, owner)["master_url"])
    whole = fetch(client, url)
    etag = whole.headers["etag"]

    part = fetch(client, url, Range="bytes=100-199")
    assert part.status_code == 206
    assert part.content == SEGMENT_0[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(SEGMENT_0)}"

    tail = fetch(client, url, Range="bytes=-10", **{"If-Range": etag})
    assert tail.status_code == 206
    assert tail.content == SEGMENT_0[-10:]
    stale = fetch(client, url, Range="bytes=0-9", **{"If-Range": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == SEGMENT_0

    past = fetch(client, url, Range=f"bytes={len(SEGMENT_0)}-")
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(SEGMENT_0)}"
    assert problem_code(past) == "range_not_satisfiable"

    unchanged = fetch(client, url, **{"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    since = fetch(client, url, **{"If-Modified-Since": whole.headers["last-modified"]})
    assert since.status_code == 304
    # A malformed validator is ignored (RFC 9110 13.1): the whole segment goes out.
    garbled = fetch(client, url, **{"If-Modified-Since": "garbage"})
    assert garbled.status_code == 200
    assert garbled.content == SEGMENT_0


# -- lifetimes ---------------------------------------------------------------------------


def test_urls_expire_at_the_exact_instant_and_caching_never_outlives_them(
    client: Client, owner: Account, make_video: MakeVideo, clock: ManualClock
) -> None:
    video_id = make_video()
    issued = issue(client, video_id, owner, expires_in_seconds="120")
    url = segment_url(client, issued["master_url"])
    clock.advance(timedelta(seconds=100))
    assert fetch(client, url).headers["cache-control"] == "private, max-age=20"
    assert fetch(client, issued["master_url"]).headers["cache-control"] == "private, max-age=20"
    clock.advance(timedelta(seconds=19, microseconds=999_999))
    assert fetch(client, url).status_code == 200
    clock.advance(timedelta(microseconds=1))
    expired = fetch(client, url)
    assert expired.status_code == 403
    assert problem_code(expired) == "playback_expired"


def test_asked_lifetimes_are_clamped_between_a_minute_and_the_maximum(
    client: Client, owner: Account, make_video: MakeVideo, clock: ManualClock
) -> None:
    from datetime import datetime

    video_id = make_video()
    now = clock.now()
    absurd = ("10000000000000000", "99999999999999999999999")
    for asked, expected in (
        ("5", 60),
        ("999999999", 6 * 3600),
        *((n, 6 * 3600) for n in absurd),
        (None, 6 * 3600),
    ):
        params = {"expires_in_seconds": asked} if asked else {}
        expires = datetime.fromisoformat(issue(client, video_id, owner, **params)["expires_at"])
        assert expires - now == timedelta(seconds=expected)
    refused = client.simulate_get(
        f"/api/v1/videos/{video_id}/playback",
        headers=owner.headers,
        params={"expires_in_seconds": "0"},
    )
    assert refused.status_code == 422


# -- access that ends ---------------------------------------------------------------------


def test_making_a_video_private_stops_its_public_urls_at_once(
    client: Client, platform: Platform, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video(Visibility.UNLISTED)
    anonymous = issue(client, video_id)
    url = segment_url(client, anonymous["master_url"])
    platform.videos.update(
        as_caller(owner), VideoId(video_id), UpdateVideo(visibility=Visibility.PRIVATE)
    )
    for address in (url, anonymous["master_url"], anonymous["posters"][0]["url"]):
        refused = fetch(client, address)
        assert refused.status_code == 403
        assert problem_code(refused) == "playback_revoked"
    # The owner's own URLs go on working.
    assert fetch(client, segment_url(client, issue(client, video_id, owner)["master_url"])).content


def test_a_user_grant_ends_when_the_user_is_disabled(
    client: Client, platform: Platform, account: MakeAccount, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    url = segment_url(client, issue(client, video_id, owner)["master_url"])
    admin = account(Role.ADMIN)
    platform.users.disable(as_caller(admin), UserId(owner.user_id))
    refused = fetch(client, url)
    assert refused.status_code == 403
    assert problem_code(refused) == "playback_revoked"


def test_processing_again_invalidates_urls_to_the_old_outputs(
    client: Client,
    platform: Platform,
    uow_factory: MemoryUnitOfWorkFactory,
    clock: ManualClock,
    storage: MemoryObjectStorage,
    owner: Account,
    make_video: MakeVideo,
) -> None:
    video_id = make_video()
    old = issue(client, video_id, owner)["master_url"]
    publish_outputs(uow_factory, clock, storage, video_id, f"videos/{video_id}/hls-2/")
    refused = fetch(client, old)
    assert refused.status_code == 403
    assert problem_code(refused) == "playback_stale"
    assert fetch(client, issue(client, video_id, owner)["master_url"]).status_code == 200


def test_a_deleted_video_is_gone(
    client: Client, platform: Platform, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    url = issue(client, video_id, owner)["master_url"]
    platform.videos.delete(as_caller(owner), VideoId(video_id))
    assert fetch(client, url).status_code == 404


# -- through a share link ------------------------------------------------------------------


def share_playback(client: Client, token: str, **body: object) -> falcon.testing.Result:
    return client.simulate_post("/api/v1/public/shares/playback", json={"token": token, **body})


def test_a_share_holder_plays_a_private_video_until_the_link_is_revoked(
    client: Client, platform: Platform, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    link = platform.shares.create(
        as_caller(owner), CreateShare(video_id=VideoId(video_id), max_uses=1)
    )
    result = share_playback(client, link.token)
    assert result.status_code == 200, result.text
    assert result.headers["cache-control"] == "no-store"
    url = segment_url(client, result.json["master_url"])
    # The link's single use is spent, but URLs already issued keep working...
    assert fetch(client, url).content == SEGMENT_0
    assert problem_code(share_playback(client, link.token)) == "share_exhausted"
    # ...until the owner revokes it.
    platform.shares.revoke(as_caller(owner), link.share.id)
    refused = fetch(client, url)
    assert refused.status_code == 403
    assert problem_code(refused) == "playback_revoked"


def test_share_urls_end_when_the_link_expires(
    client: Client, platform: Platform, owner: Account, make_video: MakeVideo, clock: ManualClock
) -> None:
    video_id = make_video()
    link = platform.shares.create(
        as_caller(owner),
        CreateShare(video_id=VideoId(video_id), expires_in=timedelta(minutes=10)),
    )
    url = segment_url(client, share_playback(client, link.token).json["master_url"])
    clock.advance(timedelta(minutes=10))
    assert problem_code(fetch(client, url)) == "playback_revoked"


def test_a_share_with_a_password_asks_for_it(
    client: Client, platform: Platform, owner: Account, make_video: MakeVideo
) -> None:
    video_id = make_video()
    link = platform.shares.create(
        as_caller(owner), CreateShare(video_id=VideoId(video_id), password="open sesame")
    )
    assert share_playback(client, link.token).status_code == 401
    assert share_playback(client, link.token, password="open sesame").status_code == 200


def test_a_link_to_a_file_is_not_playable_and_spends_no_use(
    client: Client, platform: Platform, owner: Account
) -> None:
    me = as_caller(owner)
    stored = platform.files.store(me, StoreFile("notes.txt", io.BytesIO(b"notes")))
    link = platform.shares.create(me, CreateShare(file_id=stored.id, max_uses=1))
    refused = share_playback(client, link.token)
    assert refused.status_code == 409
    assert problem_code(refused) == "share_not_playable"
    assert platform.shares.details(me, link.share.id).use_count == 0


# -- offloading the bytes ------------------------------------------------------------------


class SigningStorage(MemoryObjectStorage):
    """Memory storage that hands out direct URLs, as S3 does."""

    def download_url(
        self, key: str, *, expires_seconds: int, content_type: str, content_disposition: str
    ) -> str | None:
        return f"https://storage.example/{key}?expires={expires_seconds}&type={content_type}"


@pytest.fixture
def storage() -> MemoryObjectStorage:
    return SigningStorage()


def test_with_direct_storage_urls_segments_redirect_and_playlists_do_not(
    platform: Platform, owner: Account, make_video: MakeVideo, clock: ManualClock
) -> None:
    client = Client(create_app(platform, HttpOptions(redirect_downloads=True)))
    video_id = make_video()
    issued = issue(client, video_id, owner, expires_in_seconds="200")
    url = segment_url(client, issued["master_url"])  # playlists came from here
    redirected = fetch(client, url)
    assert redirected.status_code == 307
    key = f"videos/{video_id}/hls-1/360p/segment_00000.ts"
    assert redirected.headers["location"] == (
        f"https://storage.example/{key}?expires=200&type=video/mp2t"
    )
    assert redirected.headers["cache-control"] == "no-store"
    clock.advance(timedelta(seconds=150))  # the direct URL never outlives the token
    assert fetch(client, url).headers["location"].endswith("?expires=50&type=video/mp2t")
    clock.advance(timedelta(seconds=50))
    assert fetch(client, url).status_code == 403


def test_x_accel_redirect_hands_checked_assets_and_files_to_the_front_server(
    platform: Platform, owner: Account, make_video: MakeVideo
) -> None:
    client = Client(create_app(platform, HttpOptions(accel_redirect_prefix="/_protected/")))
    video_id = make_video()
    issued = issue(client, video_id, owner)
    base = urlsplit(issued["master_url"]).path[: -len("master.m3u8")]
    offloaded = client.simulate_get(base + "360p/segment_00000.ts")
    assert offloaded.status_code == 200
    assert offloaded.headers["x-accel-redirect"] == (
        f"/_protected/videos/{video_id}/hls-1/360p/segment_00000.ts"
    )
    assert offloaded.content == b""
    assert offloaded.headers["content-type"] == "video/mp2t"
    assert offloaded.headers["cache-control"].startswith("private, max-age=")
    # Nothing is offloaded before the checks pass.
    forged = client.simulate_get("/api/v1/play/AAAA.AAAA/360p/segment_00000.ts")
    assert forged.status_code == 403
    assert "x-accel-redirect" not in forged.headers

    me = as_caller(owner)
    stored = platform.files.store(me, StoreFile("notes.txt", io.BytesIO(b"notes")))
    download = client.simulate_get(f"/api/v1/files/{stored.id}/content", headers=owner.headers)
    assert download.status_code == 200
    assert download.headers["x-accel-redirect"] == f"/_protected/{stored.storage_key}"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.content == b""
    unchanged = client.simulate_get(
        f"/api/v1/files/{stored.id}/content",
        headers={**owner.headers, "If-None-Match": download.headers["etag"]},
    )
    assert unchanged.status_code == 304
    assert "x-accel-redirect" not in unchanged.headers
    assert client.simulate_get(f"/api/v1/files/{stored.id}/content").status_code == 401
