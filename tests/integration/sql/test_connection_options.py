"""Every PostgreSQL connection is bounded on the client side too: TCP keepalive and a
user timeout on its socket find a server that vanished without closing it, and the
server ends a session left idle in a transaction."""

from __future__ import annotations

import socket

from sqlalchemy import Engine, text

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


def test_a_connection_socket_has_keepalive_and_a_user_timeout(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        fd = raw.pgconn.socket
        sock = socket.socket(fileno=socket.dup(fd))
        try:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 10
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 3
            assert sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) == 30_000
        finally:
            sock.close()
        idle = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
        statement = conn.execute(text("SHOW statement_timeout")).scalar()
    assert idle == "1min"
    assert statement is not None and statement != "0"
