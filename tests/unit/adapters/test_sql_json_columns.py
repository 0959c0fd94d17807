"""The JSON columns: read with orjson (and the standard library for what only it wrote),
and the videos' parsed once per distinct text into shared immutable values."""

from __future__ import annotations

import math

from tests.unit.http.test_views import ready
from videoplatform.adapters.sql import mapping
from videoplatform.adapters.sql.types import FrozenJsonText, JsonText
from videoplatform.entrypoints.http.views import VideoView

FROZEN = ("tags", "media_info", "renditions", "assets")


def test_json_columns_read_what_the_standard_library_wrote() -> None:
    column = JsonText()
    processor = column.result_processor(None, None)  # type: ignore[arg-type]
    assert processor is not None
    assert processor('{"a":[1,2.5,"é"]}') == {"a": [1, 2.5, "é"]}
    assert processor(None) is None
    # json.dumps writes NaN and integers past 64 bits, which orjson refuses to read.
    assert math.isnan(processor('{"fps":NaN}')["fps"])
    assert processor('{"n":1180591620717411303424}') == {"n": 2**70}
    assert column.process_result_value('{"b":true}', None) == {"b": True}  # type: ignore[arg-type]


def test_a_video_row_s_json_is_parsed_once_into_shared_immutable_values() -> None:
    video = ready()
    row = mapping.video_row(video)
    stored = {
        **{k: v for k, v in row.items() if k not in FROZEN},
        **{k: FrozenJsonText().process_bind_param(row[k], None) for k in FROZEN},  # type: ignore[arg-type]
        "view_count": video.view_count,
        "owner_disabled": False,
        "version": 3,
    }
    first, second = mapping.video_from(stored), mapping.video_from(dict(stored))
    assert (first.tags, first.media_info, first.renditions, first.assets) == (
        video.tags,
        video.media_info,
        video.renditions,
        video.assets,
    )
    assert first.renditions is second.renditions  # the same text, parsed once
    assert first.media_info is second.media_info
    assert VideoView.data(first) == VideoView.data(video)  # equal values, instants too
    # A text that only the standard library writes (NaN) still reads.
    nan = mapping.video_from({**stored, "media_info": stored["media_info"].replace("61.25", "NaN")})
    assert nan.media_info is not None and math.isnan(nan.media_info.duration_seconds)


def test_frozen_json_columns_come_back_as_their_text() -> None:
    column = FrozenJsonText()
    assert column.result_processor(None, None) is None  # type: ignore[arg-type]
    assert column.process_bind_param({"b": 1, "a": [2]}, None) == '{"a":[2],"b":1}'  # type: ignore[arg-type]
