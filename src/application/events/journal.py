"""The unit of work's commit hooks: the durable record of every committed event, and
the in-process after-commit listeners.

``before_commit`` writes each domain event of the aggregates being persisted to the
outbox, inside the same transaction: the change and its events commit together or not
at all, and the relay publishes them to the event channel afterwards. ``after_commit``
hands them to the in-process bus, for cheap local work only (waking the relay, dropping
this process's cache entries): nothing that must happen depends on it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from videoplatform.application.events.codec import to_message
from videoplatform.application.ports.persistence import Outbox
from videoplatform.application.ports.queue import EventBus
from videoplatform.application.ports.system import IdGenerator
from videoplatform.domain.events import DomainEvent

log = logging.getLogger(__name__)


class EventJournal:
    def __init__(self, ids: IdGenerator, bus: EventBus) -> None:
        self._ids = ids
        self._bus = bus

    def before_commit(self, events: Sequence[DomainEvent], outbox: Outbox) -> None:
        for event in events:
            outbox.add(to_message(self._ids.new_id(), event))

    def after_commit(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            try:
                self._bus.publish(event)
            except Exception:
                # The change is committed: reporting failure now would make callers undo
                # or retry work that is done. The outbox holds the event for the rest.
                log.exception("in-process event publication failed: %s", event.name)
