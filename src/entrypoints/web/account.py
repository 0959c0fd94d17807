"""Signing up, in and out; confirming an address; a forgotten password.

Forms that fail come back with a message per field and what was typed, passwords
excepted. Every use case is the API's own, with its throttles and its audit trail.
"""

from __future__ import annotations

from typing import Any

import falcon

from videoplatform.application.users import Login, RegisterUser
from videoplatform.domain.errors import AuthenticationFailed, TooManyAttempts, ValidationError
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web.forms import Form, read_form
from videoplatform.entrypoints.web.rendering import Pages
from videoplatform.entrypoints.web.session import CSRF_FIELD, Visitor, WebSessions

WRONG_CODE = "That code is wrong or has expired. Ask for a new one."


def local_target(asked: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a
    scheme, which would send the user elsewhere)."""
    if not asked or not asked.startswith("/") or asked.startswith("//") or "\\" in asked:
        return "/"
    return asked


def see_other(resp: falcon.Response, location: str) -> None:
    resp.status = falcon.HTTP_303
    resp.location = location
    resp.cache_control = ["no-store"]


class AccountForms:
    """What the account pages share: the platform, templates and sessions."""

    def __init__(self, platform: Platform, pages: Pages, sessions: WebSessions) -> None:
        self.platform = platform
        self.pages = pages
        self.sessions = sessions

    def posted(self, req: falcon.Request, resp: falcon.Response) -> tuple[Visitor, Form]:
        visitor = self.sessions.visitor(req, resp)
        form = read_form(req)
        self.sessions.check_csrf(req, visitor, form.text(CSRF_FIELD))
        return visitor, form

    def show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        visitor: Visitor,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        **context: Any,
    ) -> None:
        self.pages.render(
            req,
            resp,
            template,
            visitor,
            status=status,
            errors=errors or {},
            values=values or {},
            **context,
        )

    def refused(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        template: str,
        visitor: Visitor,
        error: ValidationError | TooManyAttempts,
        values: dict[str, str],
        **context: Any,
    ) -> None:
        if isinstance(error, TooManyAttempts):
            resp.set_header("Retry-After", str(error.retry_after))
            errors = {"form": f"Too many attempts. Try again in {error.retry_after} seconds."}
            status = 429
        else:
            errors = dict(error.fields) or {"form": error.message}
            status = 422
        self.show(
            req, resp, template, visitor, status=status, errors=errors, values=values, **context
        )


class LoginPage:
    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor = forms.sessions.visitor(req, resp)
        target = local_target(req.get_param("next"))
        if visitor.user is not None:
            see_other(resp, target)
            return
        notice = {
            "registered": "Your account is ready: log in. If we mailed you a code, confirm "
            "your address first.",
            "verified": "Your address is confirmed: log in.",
            "reset": "Your password is changed and every session was signed out: log in.",
        }.get(req.get_param("done") or "")
        forms.show(req, resp, "login.html", visitor, next=target, notice=notice)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor, form = forms.posted(req, resp)
        email = form.text("email").strip()
        target = local_target(form.text("next"))
        values = {"email": email}
        try:
            issued = forms.platform.users.login(Login(email, form.text("password")), visitor.caller)
        except AuthenticationFailed:
            forms.show(
                req,
                resp,
                "login.html",
                visitor,
                status=401,
                errors={"form": "That email and password do not match an active account."},
                values=values,
                next=target,
                notice=None,
            )
            return
        except (ValidationError, TooManyAttempts) as error:
            forms.refused(req, resp, "login.html", visitor, error, values, next=target, notice=None)
            return
        forms.sessions.start(req, resp, issued)
        see_other(resp, target)


class LogoutPage:
    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, _ = self._forms.posted(req, resp)
        self._forms.sessions.end(req, resp, visitor.caller)
        see_other(resp, "/")


class RegisterPage:
    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._forms.sessions.visitor(req, resp)
        self._forms.show(req, resp, "register.html", visitor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor, form = forms.posted(req, resp)
        values = {"email": form.text("email").strip(), "display_name": form.text("display_name")}
        password = form.text("password")
        if password != form.text("password_again"):
            forms.show(
                req,
                resp,
                "register.html",
                visitor,
                status=422,
                errors={"password_again": "The two passwords differ."},
                values=values,
            )
            return
        try:
            forms.platform.users.register_quietly(
                RegisterUser(values["email"], password, values["display_name"]), visitor.caller
            )
        except (ValidationError, TooManyAttempts) as error:
            forms.refused(req, resp, "register.html", visitor, error, values)
            return
        see_other(resp, "/login?done=registered")


class VerifyPage:
    """The code mailed to confirm an address (``?code=`` fills the form in)."""

    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._forms.sessions.visitor(req, resp)
        code = (req.get_param("code") or "")[:200]
        self._forms.show(req, resp, "verify.html", visitor, values={"code": code})

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor, form = forms.posted(req, resp)
        code = form.text("code").strip()
        try:
            forms.platform.users.verify_email(code, visitor.caller)
        except (AuthenticationFailed, ValidationError):
            forms.show(
                req,
                resp,
                "verify.html",
                visitor,
                status=422,
                errors={"code": WRONG_CODE},
                values={"code": code},
            )
            return
        see_other(resp, "/login?done=verified")


class ForgotPasswordPage:
    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._forms.sessions.visitor(req, resp)
        self._forms.show(req, resp, "forgot.html", visitor, sent=False)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor, form = forms.posted(req, resp)
        values = {"email": form.text("email").strip()}
        try:
            forms.platform.users.request_password_reset(values["email"], visitor.caller)
        except (ValidationError, TooManyAttempts) as error:
            forms.refused(req, resp, "forgot.html", visitor, error, values, sent=False)
            return
        # The same answer whether or not the address has an account.
        forms.show(req, resp, "forgot.html", visitor, values=values, sent=True)


class ResetPasswordPage:
    def __init__(self, forms: AccountForms) -> None:
        self._forms = forms

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._forms.sessions.visitor(req, resp)
        code = (req.get_param("code") or "")[:200]
        self._forms.show(req, resp, "reset.html", visitor, values={"code": code})

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        forms = self._forms
        visitor, form = forms.posted(req, resp)
        values = {"code": form.text("code").strip()}
        password = form.text("password")
        if password != form.text("password_again"):
            forms.show(
                req,
                resp,
                "reset.html",
                visitor,
                status=422,
                errors={"password_again": "The two passwords differ."},
                values=values,
            )
            return
        try:
            forms.platform.users.reset_password(values["code"], password, visitor.caller)
        except (ValidationError, TooManyAttempts) as error:
            if isinstance(error, ValidationError) and "token" in error.fields:
                error = ValidationError.field("code", WRONG_CODE)
            forms.refused(req, resp, "reset.html", visitor, error, values)
            return
        forms.sessions.end(req, resp, visitor.caller)
        see_other(resp, "/login?done=reset")
