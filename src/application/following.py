"""Following a video's processing as it happens: the current state, then each change.

The state comes from two places. The video feed brings each committed change as soon
as it is published; but a feed may lose an update (one published just before the
subscription, a reconnect, an outage), so the database is also read again every
``poll_seconds`` and any change found there is passed on too: the follower never stalls
on a lost message, it is at most ``poll_seconds`` late. Each re-read checks again that
the caller may still see the video; when the video is gone or hidden, the stream ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from attrs import frozen

from videoplatform.application.context import Caller
from videoplatform.application.ports.feed import ProcessingProgress, Subscription, VideoFeed
from videoplatform.application.processing import ProcessingService
from videoplatform.domain.errors import NotFound
from videoplatform.domain.ids import VideoId
from videoplatform.domain.videos import VideoStatus


@frozen
class FollowConfig:
    poll_seconds: float = 5.0
    """Re-read the state from the database this often while no update comes."""
    heartbeat_seconds: float = 15.0
    """Yield a heartbeat (None) after this long without anything to say."""
    lifetime_seconds: float = 30 * 60.0
    """End the stream after this long, finished or not (the client reconnects)."""

    def __attrs_post_init__(self) -> None:
        if min(self.poll_seconds, self.heartbeat_seconds, self.lifetime_seconds) <= 0:
            raise ValueError("follow intervals must be positive")


class ProgressFollower:
    def __init__(
        self,
        processing: ProcessingService,
        feed: VideoFeed,
        config: FollowConfig,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._processing = processing
        self._feed = feed
        self._config = config
        self._monotonic = monotonic

    def follow(self, caller: Caller, video_id: VideoId) -> Iterator[ProcessingProgress | None]:
        """The processing states of a video the caller may see: the current one first,
        then each change, until it is ready or failed (included), it can no longer be
        seen, or the lifetime ran out; None now and then as a heartbeat. NotFound is
        raised here, before anything is yielded, for a video the caller cannot see.
        Close the iterator when done with it early (it holds a subscription)."""
        # Subscribe before reading, so that no change falls between the two.
        subscription = self._feed.subscribe(video_id)
        try:
            first = self._processing.progress(caller, video_id)
        except BaseException:
            subscription.close()
            raise
        return self._stream(caller, video_id, subscription, first)

    def _stream(
        self,
        caller: Caller,
        video_id: VideoId,
        subscription: Subscription,
        first: ProcessingProgress,
    ) -> Iterator[ProcessingProgress | None]:
        config = self._config
        try:
            yield first
            last = first
            now = self._monotonic()
            end = now + config.lifetime_seconds
            poll_at = now + config.poll_seconds
            beat_at = now + config.heartbeat_seconds
            while not last.finished:
                now = self._monotonic()
                if now >= end:
                    return
                if now >= beat_at:
                    yield None
                    beat_at = now + config.heartbeat_seconds
                    continue
                state: ProcessingProgress | None = None
                if now >= poll_at:
                    try:
                        state = self._processing.progress(caller, video_id)
                    except NotFound:
                        return
                    poll_at = now + config.poll_seconds
                else:
                    state = subscription.next(min(poll_at, beat_at, end) - now)
                if state is None or state == last or _older(state, last):
                    continue
                yield state
                last = state
                beat_at = self._monotonic() + config.heartbeat_seconds
        finally:
            subscription.close()


def _older(state: ProcessingProgress, last: ProcessingProgress) -> bool:
    """A state from before the one already shown, delivered late: an earlier attempt,
    or less progress in the same attempt (progress never goes back within one)."""
    if state.attempts != last.attempts:
        return state.attempts < last.attempts
    return _running(state) and _running(last) and state.progress < last.progress


def _running(state: ProcessingProgress) -> bool:
    return state.status is VideoStatus.PROCESSING or state.reprocessing
