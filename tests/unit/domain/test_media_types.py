"""What an upload is, from its first bytes alone."""

from __future__ import annotations

import os

import pytest

from videoplatform.domain.media_types import SNIFF_LENGTH, MediaKind, sniff


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def ftyp(brand: bytes) -> bytes:
    return box(b"ftyp", brand + b"\x00\x00\x02\x00isomiso2")


def transport_stream(packets: int, *, timestamped: bool = False) -> bytes:
    prefix = b"\x00\x00\x00\x00" if timestamped else b""
    return (prefix + b"\x47\x40\x00\x10" + b"\xff" * 184) * packets


EBML = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
OGG_PAGE = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e"

VIDEOS = {
    "mp4 (isom)": (ftyp(b"isom"), "video/mp4"),
    "mp4 (mp42)": (ftyp(b"mp42"), "video/mp4"),
    "m4v": (ftyp(b"M4V "), "video/mp4"),
    "quicktime": (ftyp(b"qt  "), "video/quicktime"),
    "quicktime without ftyp": (box(b"wide") + box(b"mdat", b"\x00" * 16), "video/quicktime"),
    "quicktime starting with moov": (b"\x00\x00\x12\x34moov" + b"\x00" * 32, "video/quicktime"),
    "3gp": (ftyp(b"3gp5"), "video/3gpp"),
    "3g2": (ftyp(b"3g2a"), "video/3gpp2"),
    "webm": (EBML + b"\x42\x82\x84webm\x42\x87\x81\x04", "video/webm"),
    "matroska": (EBML + b"\x42\x82\x88matroska", "video/x-matroska"),
    "avi": (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
    "mpeg-ts": (transport_stream(4), "video/mp2t"),
    "m2ts": (transport_stream(4, timestamped=True), "video/mp2t"),
    "mpeg-ps": (b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01", "video/mpeg"),
    "mpeg video": (b"\x00\x00\x01\xb3\x04\x00\x40\x13", "video/mpeg"),
    "flv": (b"FLV\x01\x05\x00\x00\x00\x09", "video/x-flv"),
    "ogg theora": (OGG_PAGE + b"\x80theora\x03\x02", "video/ogg"),
    "ogg, unknown codec": (OGG_PAGE + b"\x01mystery", "application/ogg"),
    "asf": (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"), "video/x-ms-asf"),
}

OTHERS = {
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", MediaKind.IMAGE),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg", MediaKind.IMAGE),
    "gif": (b"GIF89a\x01\x00\x01\x00", "image/gif", MediaKind.IMAGE),
    "webp": (b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "image/webp", MediaKind.IMAGE),
    "avif": (ftyp(b"avif"), "image/avif", MediaKind.IMAGE),
    "heic": (ftyp(b"heic"), "image/heic", MediaKind.IMAGE),
    "bmp": (b"BM" + b"\x00" * 12 + (40).to_bytes(4, "little"), "image/bmp", MediaKind.IMAGE),
    "tiff": (b"II*\x00\x08\x00\x00\x00", "image/tiff", MediaKind.IMAGE),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf", MediaKind.DOCUMENT),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00", "application/zip", MediaKind.ARCHIVE),
    "empty zip": (b"PK\x05\x06" + b"\x00" * 18, "application/zip", MediaKind.ARCHIVE),
    "gzip": (b"\x1f\x8b\x08\x00\x00\x00", "application/gzip", MediaKind.ARCHIVE),
    "tar": (b"a.txt".ljust(257, b"\x00") + b"ustar\x0000", "application/x-tar", MediaKind.ARCHIVE),
    "m4a": (ftyp(b"M4A "), "audio/mp4", MediaKind.AUDIO),
    "mp3 with id3": (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg", MediaKind.AUDIO),
    "mp3 frame": (b"\xff\xfb\x90\x64\x00", "audio/mpeg", MediaKind.AUDIO),
    "aac adts": (b"\xff\xf1\x50\x80\x02\x1f\xfc", "audio/aac", MediaKind.AUDIO),
    "wav": (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav", MediaKind.AUDIO),
    "rf64 wav": (b"RF64\xff\xff\xff\xffWAVEds64", "audio/wav", MediaKind.AUDIO),
    "bw64 wav": (b"BW64\xff\xff\xff\xffWAVEds64", "audio/wav", MediaKind.AUDIO),
    "aiff": (b"FORM\x00\x00\x10\x00AIFFCOMM", "audio/aiff", MediaKind.AUDIO),
    "aiff-c": (b"FORM\x00\x00\x10\x00AIFCFVER", "audio/aiff", MediaKind.AUDIO),
    "midi": (b"MThd\x00\x00\x00\x06\x00\x01", "audio/midi", MediaKind.AUDIO),
    "flac": (b"fLaC\x00\x00\x00\x22", "audio/flac", MediaKind.AUDIO),
    "ogg vorbis": (OGG_PAGE + b"\x01vorbis\x00", "audio/ogg", MediaKind.AUDIO),
    "ogg opus": (OGG_PAGE + b"OpusHead\x01", "audio/ogg", MediaKind.AUDIO),
    "text": (b"just some notes\nline two\n", "text/plain", MediaKind.TEXT),
    "utf-8 text": ("Grüße, 日本語\n".encode(), "text/plain", MediaKind.TEXT),
    "utf-16 text": ("hello".encode("utf-16"), "text/plain", MediaKind.TEXT),
    "html": (b"  <!DOCTYPE html>\n<html><script>", "text/html", MediaKind.TEXT),
    "html fragment": (b"<script>alert(1)</script>", "text/html", MediaKind.TEXT),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml", MediaKind.IMAGE),
    "svg behind xml": (
        b'<?xml version="1.0"?>\n<svg onload="x()">',
        "image/svg+xml",
        MediaKind.IMAGE,
    ),
    "xml": (b'<?xml version="1.0"?><feed/>', "application/xml", MediaKind.TEXT),
    "elf": (b"\x7fELF\x02\x01\x01", "application/x-executable", MediaKind.BINARY),
    "binary": (b"\x00\x01\x02\x03\xfe\xfd", "application/octet-stream", MediaKind.BINARY),
}


@pytest.mark.parametrize(("head", "mime"), VIDEOS.values(), ids=VIDEOS.keys())
def test_video_containers_are_recognized_by_their_magic_numbers(head: bytes, mime: str) -> None:
    found = sniff(head)
    assert (found.mime, found.is_video) == (mime, True)


@pytest.mark.parametrize(("head", "mime", "kind"), OTHERS.values(), ids=OTHERS.keys())
def test_other_types_are_named_and_are_not_video(head: bytes, mime: str, kind: MediaKind) -> None:
    found = sniff(head)
    assert (found.mime, found.kind) == (mime, kind)
    assert not found.is_video


def test_random_bytes_are_an_octet_stream() -> None:
    noise = bytes((i * 97 + 13) % 256 for i in range(SNIFF_LENGTH))
    assert sniff(noise).mime == "application/octet-stream"
    assert not sniff(os.urandom(SNIFF_LENGTH)).is_video


def test_an_empty_upload_is_an_octet_stream() -> None:
    assert sniff(b"").mime == "application/octet-stream"


def test_text_that_happens_to_spell_an_atom_is_still_text() -> None:
    assert sniff(b"Get free tickets for the show tonight!\n").mime == "text/plain"
    assert sniff(b"Lets skip the intro and go\n").mime == "text/plain"


def test_text_starting_with_g_is_not_a_transport_stream() -> None:
    line = b"G" + b"o" * 187
    assert sniff(line * 3).mime == "text/plain"  # sync bytes, but control-free text
    assert sniff(b"G" * 200).mime == "text/plain"  # only two "packets"


def test_a_multibyte_character_cut_by_the_window_still_counts_as_text() -> None:
    text = ("é" * SNIFF_LENGTH).encode()  # the window ends inside a character
    assert sniff(text[:SNIFF_LENGTH]).mime == "text/plain"
    assert sniff(text[:SNIFF_LENGTH]).mime == sniff(text).mime


def test_control_characters_make_text_binary() -> None:
    assert sniff(b"looks like text\x00but is not").mime == "application/octet-stream"
    assert sniff(b"bell\x07").mime == "application/octet-stream"


def test_the_utf16_byte_order_mark_is_not_an_mp3_frame() -> None:
    assert sniff("<p>hi</p>".encode("utf-16-le")).kind is not MediaKind.AUDIO
    assert sniff(b"\xff\xfe" + "<p>hi</p>".encode("utf-16-le")).mime == "text/html"


def test_only_the_leading_window_is_considered() -> None:
    late_png = b"x" * SNIFF_LENGTH + b"\x89PNG\r\n\x1a\n"
    assert sniff(late_png).mime == "text/plain"


RECORDINGS = {name: head for name, (head, _, kind) in OTHERS.items() if kind is MediaKind.AUDIO}


@pytest.mark.parametrize("head", [h for n, h in RECORDINGS.items() if n != "midi"])
def test_sound_recordings_are_audiovisual_like_videos(head: bytes) -> None:
    assert sniff(head).is_audiovisual
    assert not sniff(head).is_video


@pytest.mark.parametrize(("head", "mime"), VIDEOS.values(), ids=VIDEOS.keys())
def test_every_video_container_is_audiovisual(head: bytes, mime: str) -> None:
    assert sniff(head).is_audiovisual


def test_a_midi_score_images_and_documents_are_not_audiovisual() -> None:
    assert not sniff(RECORDINGS["midi"]).is_audiovisual  # a score, not a recording
    for name in ("png", "pdf", "text", "zip", "html"):
        assert not sniff(OTHERS[name][0]).is_audiovisual, name


def test_a_form_or_rf64_chunk_of_another_kind_is_not_sound() -> None:
    assert sniff(b"FORM\x00\x00\x10\x00ILBMBMHD").kind is not MediaKind.AUDIO
    assert sniff(b"RF64\xff\xff\xff\xffAVI LIST").kind is not MediaKind.AUDIO
