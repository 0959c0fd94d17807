"""The video feed over Redis pub/sub: workers on any machine publish, every API
process's event streams subscribe. One channel per video, ``<prefix>video:<id>``;
messages are JSON. Pub/sub keeps nothing: a subscriber that is not connected when an
update is published never sees it (followers re-read the database for that).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
import redis.client
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from videoplatform.application.ports.errors import PING_TIMEOUT_SECONDS, Unavailable
from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import FailureCode, VideoStatus

log = structlog.get_logger(__name__)

_RECONNECT_PAUSE = 1.0
_TIMEOUT = 2.0


def encode(update: ProcessingProgress) -> bytes:
    return json.dumps(
        {
            "video_id": update.video_id,
            "status": update.status.value,
            "progress": update.progress,
            "attempts": update.attempts,
            "last_error": update.last_error,
            "failure_code": update.failure_code,
            "reprocessing": update.reprocessing,
            "at": update.at.isoformat(),
        }
    ).encode()


def decode(raw: bytes | str) -> ProcessingProgress:
    """Raise ValueError (or KeyError, TypeError) for anything but an encoded update."""
    data: Any = json.loads(raw)
    last_error = data["last_error"]
    if last_error is not None and not isinstance(last_error, str):
        raise TypeError("last_error must be text or null")
    progress, attempts = data["progress"], data["attempts"]
    if not isinstance(progress, int) or not isinstance(attempts, int):
        raise TypeError("progress and attempts must be integers")
    return ProcessingProgress(
        video_id=VideoId(str(data["video_id"])),
        status=VideoStatus(data["status"]),
        progress=progress,
        attempts=attempts,
        last_error=last_error,
        at=datetime.fromisoformat(data["at"]),
        failure_code=FailureCode(code) if (code := data.get("failure_code")) else None,
        reprocessing=data.get("reprocessing") is True,
    )


class RedisVideoFeed:
    """Publishes through one shared client (a connection pool, thread-safe); each
    subscription holds a connection of its own while it is open. Pings go through a
    small client of their own that never retries, so that one ping is one attempt
    bounded by its timeouts (the shared client retries a failed command)."""

    def __init__(
        self,
        url: str,
        prefix: str = "videoplatform.",
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT,
            socket_connect_timeout=_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=30,
        )
        self._pinger: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=PING_TIMEOUT_SECONDS,
            socket_connect_timeout=PING_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            max_connections=2,
        )
        self._prefix = prefix
        self._monotonic = monotonic

    def channel(self, video_id: VideoId) -> str:
        return f"{self._prefix}video:{video_id}"

    def publish(self, update: ProcessingProgress) -> None:
        """Best effort, as the port says: a failure is logged and the update dropped.
        (The platform publishes through ``send`` behind a circuit breaker, which stops
        trying an unreachable Redis for a while.)"""
        try:
            self.send(update)
        except Unavailable as error:
            log.warning("feed_publish_failed", video_id=update.video_id, error=error.detail)

    def send(self, update: ProcessingProgress) -> None:
        """Publish ``update``; raise ``Unavailable`` when Redis does not take it."""
        try:
            self._client.publish(self.channel(update.video_id), encode(update))
        except Exception as error:
            raise Unavailable("feed", f"Redis did not take the update: {_reason(error)}") from None

    def subscribe(self, video_id: VideoId) -> RedisSubscription:
        return RedisSubscription(self._client, self.channel(video_id), self._monotonic)

    def ping(self) -> None:
        """Redis PING: one attempt, its connection and its answer each bounded by
        ``PING_TIMEOUT_SECONDS``."""
        try:
            answered = self._pinger.ping()
        except Exception as error:
            raise Unavailable("feed", f"Redis did not answer PING: {_reason(error)}") from None
        if answered is not True:
            raise Unavailable("feed", f"Redis answered PING with {answered!r}")

    def close(self) -> None:
        self._client.close()
        self._pinger.close()


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class RedisSubscription:
    def __init__(self, client: redis.Redis, channel: str, monotonic: Callable[[], float]) -> None:
        self._client = client
        self._channel = channel
        self._monotonic = monotonic
        self._pubsub: Any = None
        self._retry_at = 0.0
        self._closed = False
        self._connect()

    def _connect(self) -> bool:
        """Subscribe and wait for the server's confirmation, so that nothing published
        after this returns True is missed."""
        pubsub: Any = redis.client.PubSub(self._client.connection_pool)
        try:
            pubsub.subscribe(self._channel)
            deadline = self._monotonic() + _TIMEOUT
            while True:
                left = deadline - self._monotonic()
                if left <= 0:
                    raise TimeoutError("no subscription confirmation")
                message = pubsub.get_message(timeout=left)
                if message is not None and message.get("type") == "subscribe":
                    break
        except Exception as error:
            pubsub.close()
            self._retry_at = self._monotonic() + _RECONNECT_PAUSE
            log.warning("feed_subscribe_failed", channel=self._channel, error=type(error).__name__)
            return False
        self._pubsub = pubsub
        return True

    def next(self, timeout: float) -> ProcessingProgress | None:
        deadline = self._monotonic() + max(0.0, timeout)
        while not self._closed:
            left = deadline - self._monotonic()
            if self._pubsub is None:
                wait = self._retry_at - self._monotonic()
                if wait > 0:
                    if wait >= left:
                        time.sleep(max(0.0, left))
                        return None
                    time.sleep(wait)
                if not self._connect():
                    continue
                left = deadline - self._monotonic()
            try:
                message = self._pubsub.get_message(timeout=max(0.0, left))
            except Exception as error:
                log.warning(
                    "feed_connection_lost", channel=self._channel, error=type(error).__name__
                )
                self._drop()
                continue
            if message is not None and message.get("type") == "message":
                try:
                    return decode(message["data"])
                except (ValueError, KeyError, TypeError, RecursionError):
                    log.warning("feed_message_malformed", channel=self._channel)
            if self._monotonic() >= deadline:
                return None
        return None

    def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._retry_at = self._monotonic() + _RECONNECT_PAUSE
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                log.debug("feed_close_failed", channel=self._channel)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._drop()
