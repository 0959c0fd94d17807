"""The video feed within one process: what the embedded profile (API and processing
threads in one process) and tests use."""

from __future__ import annotations

import threading
from collections import deque

from videoplatform.application.ports.feed import ProcessingProgress
from videoplatform.domain.ids import VideoId


class MemoryVideoFeed:
    """Thread-safe fan-out to the subscribers of each video. Each subscriber buffers at
    most ``buffer`` updates: one that falls behind loses the oldest, keeps the latest."""

    def __init__(self, buffer: int = 64) -> None:
        if buffer < 1:
            raise ValueError("buffer must be at least 1")
        self._buffer = buffer
        self._lock = threading.Lock()
        self._subscribers: dict[VideoId, set[MemorySubscription]] = {}

    def publish(self, update: ProcessingProgress) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(update.video_id, ()))
        for subscriber in subscribers:
            subscriber.deliver(update)

    def ping(self) -> None:
        """Always answers: the feed is this process's memory."""
        return None

    def followed(self) -> set[VideoId]:
        """The videos that have subscribers now."""
        with self._lock:
            return set(self._subscribers)

    def subscribe(self, video_id: VideoId) -> MemorySubscription:
        subscription = MemorySubscription(self, video_id, self._buffer)
        with self._lock:
            self._subscribers.setdefault(video_id, set()).add(subscription)
        return subscription

    def leave(self, subscription: MemorySubscription) -> None:
        with self._lock:
            others = self._subscribers.get(subscription.video_id)
            if others is not None:
                others.discard(subscription)
                if not others:
                    del self._subscribers[subscription.video_id]


class MemorySubscription:
    def __init__(self, feed: MemoryVideoFeed, video_id: VideoId, buffer: int) -> None:
        self.video_id = video_id
        self._feed = feed
        self._pending: deque[ProcessingProgress] = deque(maxlen=buffer)
        self._ready = threading.Condition()
        self._closed = False

    def deliver(self, update: ProcessingProgress) -> None:
        with self._ready:
            if not self._closed:
                self._pending.append(update)
                self._ready.notify()

    def next(self, timeout: float) -> ProcessingProgress | None:
        with self._ready:
            self._ready.wait_for(lambda: self._pending or self._closed, max(0.0, timeout))
            return self._pending.popleft() if self._pending else None

    def close(self) -> None:
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._pending.clear()
            self._ready.notify_all()
        self._feed.leave(self)
