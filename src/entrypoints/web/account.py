"""Signing up, in and out; confirming an address; a forgotten password.

Forms that fail come back with a message per field and what was typed, passwords
excepted. Every use case is the API's own, with its throttles and its audit trail.
"""

from __future__ import annotations

import falcon

from videoplatform.application.users import (
    Login,
    RegisterUser,
    SecondFactorFailed,
    SecondFactorRequired,
)
from videoplatform.domain.errors import AuthenticationFailed, TooManyAttempts, ValidationError
from videoplatform.entrypoints.web.context import Site, see_other
from videoplatform.entrypoints.web.forms import Form

WRONG_CODE = "That code is wrong or has expired. Ask for a new one."


def local_target(asked: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a
    scheme, which would send the user elsewhere)."""
    if not asked or not asked.startswith("/") or asked.startswith("//") or "\\" in asked:
        return "/"
    return asked


def same_passwords(form: Form) -> str:
    """The password typed twice alike; ValidationError (on the second) otherwise."""
    password = form.text("password")
    if password != form.text("password_again"):
        raise ValidationError.field("password_again", "The two passwords differ.")
    return password


def code_page(site: Site, req: falcon.Request, resp: falcon.Response, template: str) -> None:
    """A page that takes a mailed code (``?code=`` fills it in; the mail's link puts
    it in the fragment, which the page's script reads)."""
    visitor = site.visitor(req, resp)
    code = (req.get_param("code") or "")[:200]
    site.show(req, resp, template, visitor, values={"code": code})


class LoginPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.visitor(req, resp)
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
        site.show(req, resp, "login.html", visitor, next=target, notice=notice)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        email = form.text("email").strip()
        target = local_target(form.text("next"))
        values = {"email": email}
        code = form.text("code").strip() or None
        try:
            issued = site.platform.users.login(
                Login(email, form.text("password"), code), visitor.caller
            )
        except (SecondFactorRequired, SecondFactorFailed) as second:
            # The password was right: ask for it again with the code (it is never
            # written back into the page).
            message = (
                "Enter your password again with the code your authenticator app shows."
                if isinstance(second, SecondFactorRequired)
                else "That code is not right, or was used already. Try the code shown now."
            )
            site.show(
                req,
                resp,
                "login.html",
                visitor,
                status=401,
                errors={"form": message},
                values=values,
                next=target,
                notice=None,
                ask_code=True,
            )
            return
        except AuthenticationFailed:
            site.show(
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
            site.refused(req, resp, "login.html", visitor, error, values, next=target, notice=None)
            return
        site.sessions.start(req, resp, issued)
        see_other(resp, target)


class LogoutPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, _ = self._site.posted(req, resp, member=False)
        self._site.sessions.end(req, resp, visitor.caller)
        see_other(resp, "/")


class RegisterPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._site.visitor(req, resp)
        self._site.show(req, resp, "register.html", visitor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        values = {"email": form.text("email").strip(), "display_name": form.text("display_name")}
        try:
            password = same_passwords(form)
            site.platform.users.register_quietly(
                RegisterUser(values["email"], password, values["display_name"]), visitor.caller
            )
        except (ValidationError, TooManyAttempts) as error:
            site.refused(req, resp, "register.html", visitor, error, values)
            return
        see_other(resp, "/login?done=registered")


class VerifyPage:
    """The code mailed to confirm an address (``?code=`` fills the form in)."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        code_page(self._site, req, resp, "verify.html")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        code = form.text("code").strip()
        try:
            site.platform.users.verify_email(code, visitor.caller)
        except (AuthenticationFailed, ValidationError):
            wrong = ValidationError.field("code", WRONG_CODE)
            site.refused(req, resp, "verify.html", visitor, wrong, {"code": code})
            return
        see_other(resp, "/login?done=verified")


class ForgotPasswordPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor = self._site.visitor(req, resp)
        self._site.show(req, resp, "forgot.html", visitor, sent=False)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        values = {"email": form.text("email").strip()}
        try:
            site.platform.users.request_password_reset(values["email"], visitor.caller)
        except (ValidationError, TooManyAttempts) as error:
            site.refused(req, resp, "forgot.html", visitor, error, values, sent=False)
            return
        # The same answer whether or not the address has an account.
        site.show(req, resp, "forgot.html", visitor, values=values, sent=True)


class ResetPasswordPage:
    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        code_page(self._site, req, resp, "reset.html")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        values = {"code": form.text("code").strip()}
        try:
            password = same_passwords(form)
            site.platform.users.reset_password(values["code"], password, visitor.caller)
        except (ValidationError, TooManyAttempts) as error:
            if isinstance(error, ValidationError) and "token" in error.fields:
                error = ValidationError.field("code", WRONG_CODE)
            site.refused(req, resp, "reset.html", visitor, error, values)
            return
        site.sessions.end(req, resp, visitor.caller)
        see_other(resp, "/login?done=reset")
