"""Who is browsing: the session cookie, and the CSRF token every state-changing form and
fetch carries.

The cookie holds a session token of the same kind the API hands out (``POST
/api/v1/auth/session``): one session record, listed, expired and revoked like any other.
It is HttpOnly (no script reads it), SameSite=Lax (another site's form posts without
it) and Secure whenever the site is served over https.

CSRF is a double submit: a random value in a cookie of its own, repeated in a hidden
field of each form (or the ``X-CSRF-Token`` header of a fetch). Another site can make
the browser send the cookie but can neither read it nor the page holding the field. The
value is replaced at log in and at log out, so one planted before a login is worthless
after it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import falcon
from attrs import frozen

from videoplatform.application.context import Caller
from videoplatform.application.users import IssuedToken, Principal, UserService
from videoplatform.domain.errors import AuthenticationFailed, PermissionDenied
from videoplatform.domain.users import Permission, User

SESSION_COOKIE = "vp_session"
CSRF_COOKIE = "vp_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_BYTES = 32


class CsrfRefused(PermissionDenied):
    code = "csrf_failed"


@frozen
class Visitor:
    """The person behind a page request: signed in (``user``) or not."""

    caller: Caller
    user: User | None
    csrf: str
    session_id: str | None = None
    """The session record behind the cookie (None when signed out)."""
    enrolling: bool = False
    """The session may only turn two-factor login on (the user's role requires it)."""

    def can(self, permission: Permission | str) -> bool:
        """Whether the visitor holds ``permission`` (templates name it by its value)."""
        return self.user is not None and self.user.can(Permission(permission))


class WebSessions:
    def __init__(self, users: UserService, public_url: str) -> None:
        self._users = users
        self._https = public_url.lower().startswith("https:")

    def visitor(self, req: falcon.Request, resp: falcon.Response) -> Visitor:
        """Reads (once per request) who is asking; a stale cookie is dropped and the
        visitor is anonymous. Gives the browser a CSRF cookie when it has none."""
        known: Visitor | None = getattr(req.context, "visitor", None)
        if known is not None:
            return known
        caller: Caller = req.context.caller
        user = None
        session_id = None
        enrolling = False
        token = req.get_cookie_values(SESSION_COOKIE)
        if token and caller.user_id is None:
            try:
                principal, user = self._users.authenticate_user(token[0], session_only=True)
            except AuthenticationFailed:
                self._clear(req, resp, SESSION_COOKIE)
            else:
                caller = Caller(
                    principal.user_id,
                    caller.ip,
                    caller.user_agent,
                    principal.token_id,
                    account=user,
                )
                session_id = principal.token_id
                enrolling = not principal.scopes
                req.context.caller = caller
                req.context.user_id = principal.user_id
        elif caller.user_id is not None:  # a bearer token the middleware accepted
            user = self._users.me(caller)
        csrf = _first(req.get_cookie_values(CSRF_COOKIE))
        if not csrf:
            csrf = self._new_csrf(req, resp)
        visitor = Visitor(caller, user, csrf, session_id, enrolling)
        req.context.visitor = visitor
        return visitor

    def check_csrf(self, req: falcon.Request, visitor: Visitor, sent: str | None) -> None:
        """PermissionDenied unless the form (or the header) repeats the CSRF cookie."""
        if not _repeats_cookie(req, sent or req.get_header(CSRF_HEADER) or ""):
            raise CsrfRefused("this form has expired; reload the page and try again")

    def start(self, req: falcon.Request, resp: falcon.Response, issued: IssuedToken) -> None:
        """Signed in: the session cookie, and a new CSRF value."""
        self._set(req, resp, SESSION_COOKIE, issued.token, issued.expires_at)
        self._new_csrf(req, resp)

    def end(self, req: falcon.Request, resp: falcon.Response, caller: Caller) -> None:
        """Signed out: the session record revoked, both cookies replaced."""
        token = _first(req.get_cookie_values(SESSION_COOKIE))
        if token:
            self._users.logout(token, caller)
        self._clear(req, resp, SESSION_COOKIE)
        self._new_csrf(req, resp)

    def _new_csrf(self, req: falcon.Request, resp: falcon.Response) -> str:
        value = secrets.token_urlsafe(CSRF_BYTES)
        self._set(req, resp, CSRF_COOKIE, value, None)
        return value

    def _secure(self, req: falcon.Request) -> bool:
        return self._https or req.scheme == "https"

    def _set(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        name: str,
        value: str,
        expires: datetime | None,
    ) -> None:
        resp.set_cookie(
            name,
            value,
            expires=expires,
            path="/",
            secure=self._secure(req),
            http_only=True,
            same_site="Lax",
        )

    def _clear(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.unset_cookie(name, path="/", same_site="Lax")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def browser_session(req: falcon.Request, users: UserService) -> tuple[Principal, User] | None:
    """The signed-in visitor behind an API call made by the site's own scripts: the
    session cookie's principal and account, or None (no cookie, or a stale one: the call
    is anonymous).
    A write must repeat the CSRF cookie in ``X-CSRF-Token`` (PermissionDenied
    otherwise): another site can make a browser send the cookie, not the header."""
    token = _first(req.get_cookie_values(SESSION_COOKIE))
    if not token:
        return None
    if req.method not in SAFE_METHODS and not _repeats_cookie(req, req.get_header(CSRF_HEADER)):
        raise CsrfRefused("send the page's CSRF token in X-CSRF-Token with the session cookie")
    try:
        return users.authenticate_user(token, session_only=True)
    except AuthenticationFailed:
        return None


def _repeats_cookie(req: falcon.Request, sent: str | None) -> bool:
    cookie = _first(req.get_cookie_values(CSRF_COOKIE))
    return bool(cookie) and hmac.compare_digest((sent or "").encode(), cookie.encode())


def _first(values: list[str] | None) -> str:
    return values[0] if values else ""
