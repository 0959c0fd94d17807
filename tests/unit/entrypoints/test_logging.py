"""Log lines are structured, carry the request's bound context, and the stdlib's records
come out the same way."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import structlog

from videoplatform.entrypoints.logging import configure_logging, logging_configured

pytestmark = pytest.mark.usefixtures("restore_logging")


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_structlog_event_is_one_json_line_with_the_bound_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True, level="info")
    structlog.contextvars.bind_contextvars(request_id="req-7", user_id="u1")
    structlog.get_logger("videoplatform.http").info("request", method="GET", status=200)

    (line,) = lines_of(capsys.readouterr().err)
    assert line["event"] == "request"
    assert line["request_id"] == "req-7"
    assert line["user_id"] == "u1"
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert line["level"] == "info"
    assert line["logger"] == "videoplatform.http"
    assert line["timestamp"].endswith("Z")


def test_a_stdlib_record_is_rendered_the_same_way_with_the_context() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    structlog.contextvars.bind_contextvars(request_id="req-8")
    logging.getLogger("gunicorn.error").warning("worker %s timed out", 42)

    (line,) = lines_of(out.getvalue())
    assert line["event"] == "worker 42 timed out"
    assert line["level"] == "warning"
    assert line["logger"] == "gunicorn.error"
    assert line["request_id"] == "req-8"


def test_an_exception_is_kept_inside_its_json_line() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError:
        structlog.get_logger("videoplatform").exception("request failed")

    (line,) = lines_of(out.getvalue())
    assert line["event"] == "request failed"
    assert line["exception"][0]["exc_type"] == "RuntimeError"


def test_events_below_the_level_are_dropped() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="warning", stream=out)
    structlog.get_logger("videoplatform").info("chatter")
    logging.getLogger("sqlalchemy").info("more chatter")
    structlog.get_logger("videoplatform").warning("worth reading")

    assert [line["event"] for line in lines_of(out.getvalue())] == ["worth reading"]


def test_configuring_again_replaces_the_handler_instead_of_duplicating_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=first)
    configure_logging(json=True, stream=second)
    structlog.get_logger("videoplatform").info("once")

    assert first.getvalue() == ""
    assert [line["event"] for line in lines_of(second.getvalue())] == ["once"]
    assert logging_configured()


def test_the_console_format_is_for_people() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    structlog.contextvars.bind_contextvars(request_id="req-9")
    structlog.get_logger("videoplatform").info("listening", port=8000)

    text = out.getvalue()
    assert "listening" in text
    assert "port=8000" in text
    assert "request_id=req-9" in text
    assert not text.startswith("{")


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="chatty")


def test_what_is_logged_during_a_use_case_names_it_and_only_then() -> None:
    from videoplatform.application.dispatch import UseCaseCall
    from videoplatform.entrypoints.logging import bind_use_case

    seen = bind_use_case(
        UseCaseCall("videos.get", None), lambda: dict(structlog.contextvars.get_contextvars())
    )
    assert seen["use_case"] == "videos.get"
    assert "use_case" not in structlog.contextvars.get_contextvars()


def test_lines_from_many_threads_reach_a_shared_pipe_whole_long_ones_too() -> None:
    """Written straight to the descriptor: short lines in one system call each, long
    ones (a traceback) under the stream's lock; none is cut into by another."""
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stream = os.fdopen(write_end, "w")
    try:
        configure_logging(json=True, stream=stream)

        def log(worker: int) -> None:
            logger = structlog.get_logger("videoplatform.http")
            for n in range(150):
                padding = "x" * (9000 if n % 10 == 0 else 40)
                logger.info("request", worker=worker, n=n, padding=padding)

        workers = [threading.Thread(target=log, args=(w,)) for w in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        stream.close()
        reader.join()
        os.close(read_end)

    lines = lines_of(received.decode())
    assert len(lines) == 6 * 150
    assert sorted((line["worker"], line["n"]) for line in lines) == [
        (w, n) for w in range(6) for n in range(150)
    ]
    assert {len(line["padding"]) for line in lines} == {40, 9000}


def test_what_the_stream_held_before_comes_out_before_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    with path.open("w") as stream:
        stream.write("started\n")  # still in the stream's buffer
        configure_logging(json=True, stream=stream)
        structlog.get_logger("videoplatform").info("listening", port=8000)
        logging.getLogger("gunicorn.error").warning("worker %s booted", 7)

    first, *rest = path.read_text().splitlines()
    assert first == "started"
    assert [line["event"] for line in lines_of("\n".join(rest))] == [
        "listening",
        "worker 7 booted",
    ]


def test_values_json_does_not_spell_the_same_way_everywhere_still_make_one_line() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    logger = structlog.get_logger("videoplatform")

    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    logger.info("huge", count=2**70)  # past 64 bits
    logger.info("broken", text="a\udc80b")  # a lone surrogate
    logger.info("words", title="Café, 東京", opaque=Opaque(), keyed={1: "one"})

    huge, broken, words = lines_of(out.getvalue())
    assert huge["count"] == 2**70
    assert broken["text"] == "a\udc80b"
    assert words["title"] == "Café, 東京"
    assert words["opaque"] == "<opaque>"
    assert words["keyed"] == {"1": "one"}
