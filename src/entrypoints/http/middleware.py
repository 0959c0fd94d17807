"""Request id and access log, authentication, versioning, security headers."""

from __future__ import annotations

import ipaddress
import random
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import falcon
import structlog

from videoplatform.application.context import Caller
from videoplatform.application.users import Principal, UserService
from videoplatform.domain.errors import AuthenticationFailed, PermissionDenied, ValidationError
from videoplatform.domain.users import ALL_SCOPES, Scope
from videoplatform.entrypoints.http.convert import check_text
from videoplatform.entrypoints.http.errors import coded
from videoplatform.entrypoints.web.session import browser_session

log = structlog.get_logger("videoplatform.http")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SUPPORTED_VERSIONS = frozenset({"1", "v1", "1.0"})


def _new_request_id() -> str:
    """128 random bits in hex. A request id names a request in logs and traces and
    grants nothing, so it comes from the process's seeded generator (reseeded in every
    forked worker), not from ``secrets``: reading the operating system's randomness is a
    system call per request, and under the threaded server every system call hands the
    interpreter to another thread."""
    return f"{random.getrandbits(128):032x}"


class RequestContext:
    """Gives every request an id (a sane ``X-Request-ID`` is kept), binds it into the
    logging context, echoes it, and writes one JSON log line per request."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        offered = req.get_header("X-Request-ID") or ""
        req.context.request_id = offered if _SANE_ID.match(offered) else _new_request_id()
        req.context.started = time.perf_counter()
        req.context.user_id = None
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=req.context.request_id)
        resp.set_header("X-Request-ID", req.context.request_id)

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: object
    ) -> None:
        # What is logged while the request is handled (a slow statement) says its route.
        structlog.contextvars.bind_contextvars(route=req.uri_template)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        log.info(
            "request",
            method=req.method,
            route=req.uri_template or "<unmatched>",
            status=int(str(resp.status).split(" ", 1)[0]),
            duration_ms=round(duration, 2),
            user_id=getattr(req.context, "user_id", None),
        )
        structlog.contextvars.clear_contextvars()


class Versioning:
    """``/api/v1`` is the version in the path; a client may also send ``Accept-Version``
    and gets 406 for a version this server does not speak. Operations marked
    deprecated carry ``Deprecation`` and ``Sunset`` headers."""

    def __init__(self, deprecations: Mapping[tuple[str, str], tuple[str, str]]) -> None:
        # (method, uri template) -> (deprecation date, sunset date), RFC 9745 / RFC 8594
        self._deprecations = dict(deprecations)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = req.get_header("Accept-Version")
        if asked is not None and asked.strip().lower() not in SUPPORTED_VERSIONS:
            raise coded(
                falcon.HTTPNotAcceptable(
                    description=f"API version {asked!r} is not supported; this server speaks 1"
                ),
                "unsupported_version",
            )

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        resp.set_header("API-Version", "1")
        marked = self._deprecations.get((req.method, req.uri_template or ""))
        if marked is not None:
            resp.set_header("Deprecation", marked[0])
            resp.set_header("Sunset", marked[1])


class InsufficientScope(PermissionDenied):
    """A personal token used for an operation outside its scopes."""

    code = "insufficient_scope"


class TwoFactorRequired(PermissionDenied):
    """A session of a user whose role requires two-factor login, used before it is on."""

    code = "two_factor_required"


class Authentication:
    """Turns ``Authorization: Bearer <token>`` into ``req.context.caller``. No header:
    an anonymous caller. A header with a bad token: 401, never silently anonymous —
    except on operations that need no authentication at all (log in, register, health,
    the docs), where a stale token left in a client must not lock its user out."""

    def __init__(
        self,
        users: UserService,
        public: frozenset[tuple[str, str]],
        proxies: ClientAddress | None = None,
        *,
        required: frozenset[tuple[str, str]] = frozenset(),
        scopes: Mapping[tuple[str, str], Scope] | None = None,
        enrolment: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self._users = users
        self._public = public
        self._required = required
        self._scopes = scopes or {}
        self._enrolment = enrolment
        self._address = proxies or ClientAddress(())

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.token = None
        req.context.client_ip = self._address.of(req)
        req.context.caller = Caller.anonymous(req.context.client_ip, _agent(req))

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        ip = req.context.client_ip
        agent = _agent(req)
        header = req.get_header("Authorization")
        operation = (req.method, req.uri_template or "")
        if not header and operation not in self._public and req.path.startswith(API_PREFIX):
            # The web application's scripts (uploads, progress) call the API as the
            # signed-in visitor: by the session cookie, with the CSRF header on writes.
            signed_in = browser_session(req, self._users)
            if signed_in is not None:
                browser, account = signed_in
                self._may_use(browser, operation)
                req.context.user_id = browser.user_id
                structlog.contextvars.bind_contextvars(user_id=browser.user_id)
                req.context.caller = Caller(
                    browser.user_id, ip, agent, browser.token_id, account=account
                )
                return
        if not header or operation in self._public:
            if operation in self._required:
                raise AuthenticationFailed("authentication required")
            return
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise falcon.HTTPUnauthorized(
                title="Unauthorized",
                description="use Authorization: Bearer <token>",
                challenges=['Bearer realm="videoplatform"'],
            )
        principal, account = self._users.authenticate_user(token.strip())
        self._may_use(principal, operation)
        req.context.token = token.strip()
        req.context.user_id = principal.user_id
        structlog.contextvars.bind_contextvars(user_id=principal.user_id)
        req.context.caller = Caller(
            principal.user_id, ip, agent, principal.token_id, account=account
        )

    def _may_use(self, principal: Principal, operation: tuple[str, str]) -> None:
        """PermissionDenied unless the operation is one the credential may be used for.
        An operation of the API needs its scope; anything else (the web site's pages)
        needs every scope: a login session, or a token that may do all it does. A
        session with no scope at all may only turn two-factor login on."""
        if not principal.scopes:
            if operation not in self._enrolment:
                raise TwoFactorRequired("your role requires two-factor login: turn it on first")
            return
        needed = self._scopes.get(operation)
        if needed is None and principal.scopes != ALL_SCOPES:
            raise InsufficientScope("this token may be used for the API only")
        if needed is not None and needed not in principal.scopes:
            raise InsufficientScope(
                f"this token may not be used for this: it needs the {needed.value} scope"
            )


class ClientAddress:
    """The address of the client a request comes from. From a peer that is one of the
    ``trusted`` proxies (addresses or networks), it is the nearest address in
    ``X-Forwarded-For`` that is not itself a trusted proxy: the one the outermost trusted
    proxy saw, which a client cannot forge by sending the header itself. From any other
    peer, the header is ignored and the peer is the client."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self._trusted = tuple(ipaddress.ip_network(net.strip(), strict=False) for net in trusted)

    def _is_trusted(self, address: str) -> bool:
        ip = _address(address)
        return ip is not None and any(ip in network for network in self._trusted)

    def of(self, req: falcon.Request) -> str:
        peer: str = req.remote_addr
        if not self._trusted or not self._is_trusted(peer):
            return peer
        forwarded = req.get_header("X-Forwarded-For") or ""
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if _address(hop) is None:  # garbage where an address should be
                return peer
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer  # trusted proxies all the way


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _agent(req: falcon.Request) -> str | None:
    return (req.user_agent or "")[:512] or None


API_PREFIX = "/api/"


class SaneInput:
    """Path and query parameters are text a database can store: no NUL, no lone
    surrogates. Anything else is a 422 naming the parameter, never a 500 deep inside.
    On the API an empty query value (``?visibility=``) is refused like an invalid one,
    not taken for an absent one: a client that sends it meant something."""

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, Any]
    ) -> None:
        supplied: list[tuple[str, Any]] = [*params.items(), *req.params.items()]
        for name, value in supplied:
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    try:
                        check_text(text)
                    except ValueError as problem:
                        raise ValidationError.field(name, str(problem)) from None
        if req.path.startswith(API_PREFIX):
            for name, value in req.params.items():
                if any(v == "" for v in (value if isinstance(value, list) else [value])):
                    raise ValidationError.field(name, "must not be empty")


class SecurityHeaders:
    """nosniff everywhere, a strict CSP on HTML (the docs page relaxes only to itself)."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, succeeded: bool
    ) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.set_header("X-Frame-Options", "DENY")
        content_type = resp.content_type or ""
        if content_type.startswith("text/html") and not resp.get_header("Content-Security-Policy"):
            resp.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")


def caller_of(req: falcon.Request) -> Caller:
    caller: Caller = req.context.caller
    return caller
