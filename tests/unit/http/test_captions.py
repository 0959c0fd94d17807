"""Caption tracks over HTTP: added as SRT or WebVTT by whoever manages the video, read by
whoever may see it, listed in the signed master playlist and served to players on the
renditions' timeline."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import falcon.testing

from tests.unit.http.conftest import Account, MakeAccount, problem_code
from tests.unit.http.documented import Documented
from tests.unit.http.test_processing import MISSING, VIDEOS, uploaded
from videoplatform.adapters.memory.storage import MemoryObjectStorage
from videoplatform.adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from videoplatform.application.audit_trail import AuditFilter
from videoplatform.application.context import Caller
from videoplatform.application.processing import ProcessingOutcome
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.captions import MAX_TRACKS
from videoplatform.domain.ids import UserId, VideoId
from videoplatform.domain.users import Role
from videoplatform.domain.videos import Visibility
from videoplatform.entrypoints.bootstrap import Platform

Client = falcon.testing.TestClient
SRT = (
    b"1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <font color=red>there</font>\r\n\r\n"
    b"2\r\n00:00:03,000 --> 00:00:04,000\r\n<i>Second</i> line\r\n"
)
VTT = b"WEBVTT\n\n00:00.500 --> 00:01.000\nBonjour\n"


def ready(platform: Platform, owner: Account, visibility: Visibility) -> VideoId:
    video = uploaded(platform, owner, visibility=visibility)
    assert platform.processing.process("job-1", video) is ProcessingOutcome.READY
    return video


def fields(result: falcon.testing.Result) -> list[str]:
    return [error["field"] for error in result.json["errors"]]


def put(
    client: Client, video: VideoId, language: str, who: Account | None, body: bytes, **q: str
) -> falcon.testing.Result:
    return client.simulate_put(
        f"{VIDEOS}/{video}/captions/{language}",
        body=body,
        headers={"Content-Type": "text/vtt", **(who.headers if who else {})},
        params=q,
    )


def test_the_owner_adds_srt_which_is_stored_as_clean_webvtt(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PUBLIC)
    added = put(client, video, "EN", owner, SRT, kind="captions")
    assert added.status_code == 201, added.text
    assert {k: added.json[k] for k in ("language", "label", "kind", "origin", "cue_count")} == {
        "language": "en",
        "label": "English",
        "kind": "captions",
        "origin": "uploaded",
        "cue_count": 2,
    }
    text = client.simulate_get(f"{VIDEOS}/{video}/captions/en")  # public video: anyone
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/vtt")
    assert text.text == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello there\n\n"
        "00:00:03.000 --> 00:00:04.000\n<i>Second</i> line\n"
    )
    listed = client.simulate_get(f"{VIDEOS}/{video}/captions").json
    assert [t["language"] for t in listed] == ["en"]
    events = platform.audit.search(
        Caller(UserId(account(Role.ADMIN).user_id)),
        AuditFilter(action=AuditAction.CAPTION_UPLOAD),
    ).items
    assert [(e.metadata["language"], e.metadata["format"]) for e in events] == [("en", "srt")]


def test_replacing_a_track_keeps_one_per_language_and_drops_the_old_bytes(
    client: Client, platform: Platform, account: MakeAccount, storage: MemoryObjectStorage
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PRIVATE)
    assert put(client, video, "fr", owner, SRT).status_code == 201
    old_keys = {k for k in storage._objects if "/captions/" in k}
    replaced = put(client, video, "fr", owner, VTT, label="Français (Canada)")
    assert replaced.status_code == 200
    assert (replaced.json["label"], replaced.json["cue_count"]) == ("Français (Canada)", 1)
    keys = {k for k in storage._objects if "/captions/" in k}
    assert len(keys) == 1 and keys.isdisjoint(old_keys)
    shown = client.simulate_get(f"{VIDEOS}/{video}/captions/fr", headers=owner.headers)
    assert "Bonjour" in shown.text


def test_who_may_change_captions_is_settled_before_what_they_send(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner, viewer = account(Role.CREATOR), account(Role.CREATOR)
    public = ready(platform, owner, Visibility.PUBLIC)
    private = ready(platform, owner, Visibility.PRIVATE)
    anonymous = put(client, public, "not a language!", None, b"junk")
    assert (anonymous.status_code, problem_code(anonymous)) == (401, "authentication_failed")
    refused = put(client, public, "not a language!", viewer, b"junk", kind="karaoke")
    assert (refused.status_code, problem_code(refused)) == (403, "permission_denied")
    long_label = put(client, public, "en", viewer, SRT, label="a" * 300, kind="x" * 300)
    assert (long_label.status_code, problem_code(long_label)) == (403, "permission_denied")
    hidden = put(client, private, "en", viewer, SRT)
    missing = put(client, VideoId(MISSING), "en", viewer, SRT)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json["detail"] == missing.json["detail"]
    assert (
        client.simulate_get(f"{VIDEOS}/{private}/captions", headers=viewer.headers).json["detail"]
        == (missing.json["detail"])
    )
    gone = client.simulate_delete(f"{VIDEOS}/{public}/captions/en", headers=viewer.headers)
    assert gone.status_code == 403
    moderator = account(Role.MODERATOR)
    assert put(client, private, "de", moderator, SRT).status_code == 201


def test_what_is_not_captions_is_refused_with_a_reason(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PRIVATE)
    for body in (b"", b"just some words", b"\x00\x01\x02binary", b"WEBVTT\n\n"):
        refused = put(client, video, "en", owner, body)
        assert (refused.status_code, problem_code(refused)) == (422, "validation_failed")
        assert fields(refused) == ["file"], refused.json
    bad_language = put(client, video, "english language", owner, SRT)
    assert fields(bad_language) == ["language"]
    bad_kind = put(client, video, "en", owner, SRT, kind="karaoke")
    assert fields(bad_kind) == ["kind"]
    too_big = client.simulate_put(
        f"{VIDEOS}/{video}/captions/en",
        body=b"x",
        headers={**owner.headers, "Content-Type": "text/vtt", "Content-Length": "3000000"},
    )
    assert too_big.status_code == 413
    refused_first = client.simulate_put(
        f"{VIDEOS}/{video}/captions/en",
        body=b"x",
        headers={**account(Role.CREATOR).headers, "Content-Length": "3000000"},
    )
    assert refused_first.status_code == 404  # a private video: who asks is settled first
    assert client.simulate_get(f"{VIDEOS}/{video}/captions", headers=owner.headers).json == []


def test_a_video_takes_a_bounded_number_of_languages(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PRIVATE)
    languages = [f"x{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(MAX_TRACKS + 1)]
    for language in languages[:MAX_TRACKS]:
        assert put(client, video, language, owner, VTT).status_code == 201
    refused = put(client, video, languages[-1], owner, VTT)
    assert (refused.status_code, problem_code(refused)) == (409, "too_many_captions")
    assert put(client, video, languages[0], owner, SRT).status_code == 200  # replacing is fine


def test_deleting_a_track_and_deleting_the_video(
    client: Client,
    platform: Platform,
    account: MakeAccount,
    storage: MemoryObjectStorage,
    uow_factory: MemoryUnitOfWorkFactory,
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PRIVATE)
    put(client, video, "en", owner, SRT)
    put(client, video, "fr", owner, VTT)
    path = f"{VIDEOS}/{video}/captions/en"
    assert client.simulate_delete(path, headers=owner.headers).status_code == 204
    again = client.simulate_delete(path, headers=owner.headers)
    assert (again.status_code, problem_code(again)) == (404, "caption_not_found")
    listed = client.simulate_get(f"{VIDEOS}/{video}/captions", headers=owner.headers).json
    assert [t["language"] for t in listed] == ["fr"]
    assert client.simulate_delete(f"{VIDEOS}/{video}", headers=owner.headers).status_code == 204
    assert not [k for k in storage._objects if k.startswith(f"videos/{video}/")]
    with uow_factory() as uow:
        assert uow.captions.list_for_video(video) == []


def signed(client: Client, video: VideoId, who: Account) -> str:
    issued = client.simulate_get(f"{VIDEOS}/{video}/playback", headers=who.headers)
    assert issued.status_code == 200, issued.text
    url: str = issued.json["master_url"]
    return url


def fetch(client: Client, url: str) -> falcon.testing.Result:
    return client.simulate_get(urlsplit(url).path)


def test_players_find_the_tracks_in_the_master_playlist(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PUBLIC)
    master_url = signed(client, video, owner)
    plain = fetch(client, master_url).text
    assert "SUBTITLES" not in plain
    put(client, video, "en", owner, SRT, kind="captions")
    put(client, video, "pt-br", owner, VTT, label="Português")
    master = fetch(client, master_url)
    assert master.status_code == 200
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = master.text.splitlines()
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert len(media) == 2
    assert 'LANGUAGE="en"' in media[0] and 'NAME="English"' in media[0]
    assert "public.accessibility.transcribes-spoken-dialog" in media[0]
    assert 'LANGUAGE="pt-BR"' in media[1] and 'URI="captions/pt-BR.m3u8"' in media[1]
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert variants and all(line.endswith(',SUBTITLES="subs"') for line in variants)
    playlist = fetch(client, urljoin(master_url, "captions/en.m3u8"))
    assert playlist.status_code == 200
    assert "#EXTINF:" in playlist.text and "\nen.vtt\n" in playlist.text
    assert "#EXT-X-ENDLIST" in playlist.text
    cues = fetch(client, urljoin(master_url, "captions/en.vtt"))
    assert cues.status_code == 200 and cues.headers["content-type"] == "text/vtt"
    assert cues.text.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n")
    # The synthetic ladder starts at 1.4 s, as ffmpeg's do: cues are moved onto it.
    assert "00:00:02.400 --> 00:00:03.900\nHello there" in cues.text
    # Written per request: validated by its ETag alone (a deleted track must not leave a
    # cached master behind on an If-Modified-Since).
    assert "last-modified" not in master.headers
    again = client.simulate_get(
        urlsplit(master_url).path, headers={"If-None-Match": master.headers["etag"]}
    )
    assert again.status_code == 304
    assert "Hello there" in cues.text
    missing = fetch(client, urljoin(master_url, "captions/de.vtt"))
    assert (missing.status_code, problem_code(missing)) == (404, "playback_asset_not_found")
    client.simulate_delete(f"{VIDEOS}/{video}/captions/en", headers=owner.headers)
    client.simulate_delete(f"{VIDEOS}/{video}/captions/pt-BR", headers=owner.headers)
    assert fetch(client, master_url).text == plain


def test_caption_paths_follow_the_same_grants_as_the_video(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    owner = account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PUBLIC)
    put(client, video, "en", owner, SRT)
    viewer = account(Role.CREATOR)
    url = urljoin(signed(client, video, viewer), "captions/en.vtt")
    assert fetch(client, url).status_code == 200
    client.simulate_patch(
        f"{VIDEOS}/{video}", json={"visibility": "private"}, headers=owner.headers
    )
    revoked = fetch(client, url)
    assert (revoked.status_code, problem_code(revoked)) == (403, "playback_revoked")


def test_caption_responses_match_the_published_document(
    client: Client, platform: Platform, account: MakeAccount
) -> None:
    docs = Documented(client.simulate_get("/api/v1/openapi.json").json)
    owner, viewer = account(Role.CREATOR), account(Role.CREATOR)
    video = ready(platform, owner, Visibility.PUBLIC)
    path = f"{VIDEOS}/{video}/captions/en"
    listing = f"{VIDEOS}/{video}/captions"
    results = [
        ("PUT", put(client, video, "en", None, SRT)),
        ("PUT", put(client, video, "en", viewer, SRT)),
        ("PUT", put(client, video, "en", owner, b"nothing")),
        ("PUT", put(client, video, "en", owner, SRT)),
        ("PUT", put(client, video, "en", owner, SRT)),
        ("GET", client.simulate_get(path)),
        ("LIST", client.simulate_get(listing)),
        ("DELETE", client.simulate_delete(path, headers=owner.headers)),
        ("DELETE", client.simulate_delete(path, headers=owner.headers)),
        ("GET", client.simulate_get(path)),
    ]
    statuses = []
    for method, result in results:
        statuses.append(result.status_code)
        media = result.headers.get("content-type", "").split(";")[0]
        payload = result.json if media.endswith("json") else result.text
        if method == "LIST":
            docs.check("GET", listing, result.status_code, payload, media)
        else:
            docs.check(method, path, result.status_code, payload, media)
    assert statuses == [401, 403, 422, 201, 200, 200, 200, 204, 404, 404]
