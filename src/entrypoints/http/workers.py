"""gunicorn's threaded worker, closing its listening sockets as soon as it stops.

On SIGTERM the master closes its copy of each listening socket at once, but every
worker keeps the copy it inherited until the process exits: while a stopping worker
finishes its requests (up to the graceful timeout), the kernel still completes new
connections into the listen backlog, where nobody accepts them, and resets them when
the worker exits (clients waited seconds, then saw "connection reset"). This worker,
when it stops accepting, first takes the connections already waiting in the backlog
(they are answered like the others), then closes its listening sockets: from then on
a new connection is refused at once, and a load balancer moves on to a live node.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker


class ThreadWorker(GunicornThreadWorker):  # type: ignore[misc]
    sockets: list[Any]  # the listeners gunicorn handed this worker

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if enabled or self.alive:
            return
        for listener in self.sockets:
            self._take_waiting(listener)
            listener.close()
        self.sockets = []

    def _take_waiting(self, listener: Any) -> None:
        """Accept every connection already completed in ``listener``'s backlog."""
        listener.setblocking(False)
        while True:
            before = self.nr_conns
            try:
                self.accept(listener)
            except OSError:
                return
            if self.nr_conns == before:  # nothing was waiting
                return
