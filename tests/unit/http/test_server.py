"""What ``videoplatform serve`` does in a worker besides serving."""

from __future__ import annotations

import gc

from videoplatform.entrypoints.http.server import GunicornServer, ServeOptions


class _App:
    """Stands for the WSGI app and everything it holds."""

    def __init__(self) -> None:
        self.held = [{"row": n} for n in range(100)]

    def __call__(self, environ: object, start_response: object) -> list[bytes]:
        return []


def test_what_a_worker_loads_is_frozen_out_of_the_collectors_passes() -> None:
    server = GunicornServer(ServeOptions(bind="127.0.0.1:0"), _App)
    try:
        app = server.load()
        assert isinstance(app, _App)
        tracked = {id(o) for o in gc.get_objects()}
        # Frozen objects are in no generation: a full collection does not walk them.
        assert id(app) not in tracked
        assert id(app.held[0]) not in tracked
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
