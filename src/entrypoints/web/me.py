"""The signed-in user's own settings: profile, personal API tokens, active sessions,
two-factor login."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import falcon

from videoplatform.application.users import UpdateProfile
from videoplatform.domain.errors import (
    Conflict,
    InvalidTransition,
    TooManyAttempts,
    ValidationError,
)
from videoplatform.domain.ids import TokenId
from videoplatform.domain.users import Scope, parse_scopes
from videoplatform.domain.visibility import Visibility
from videoplatform.entrypoints.web.account import code_page
from videoplatform.entrypoints.web.context import Site, field_errors, see_other, signed_in

LIFETIME_FIELD = {"expires_in": "expires_in_days"}
SCOPES = (
    (Scope.READ.value, "Read", "see your videos, files, links and account"),
    (Scope.WRITE.value, "Write", "edit and delete them, share, make tokens"),
    (Scope.UPLOAD.value, "Upload", "send videos, files and captions"),
    (Scope.ADMIN.value, "Administer", "moderate and administer, where your roles allow"),
)
"""The scopes a token may be given, as the form offers them: value, name, meaning."""


class Tokens:
    """``/account/tokens``: the personal tokens (for scripts and the API), a form to
    make one (its secret shown once), and Revoke."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(self, req: falcon.Request, resp: falcon.Response, **form: Any) -> None:
        site = self._site
        visitor = site.member(req, resp)
        site.show(
            req,
            resp,
            "tokens.html",
            visitor,
            tokens=site.platform.users.list_api_tokens(visitor.caller),
            scopes=SCOPES,
            made=form.pop("made", None),
            revoked=req.get_param("revoked") is not None,
            **form,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._site.posted(req, resp)
        values: dict[str, Any] = {
            "name": form.text("name"),
            "expires_in_days": form.text("expires_in_days"),
            "scopes": form.values("scopes"),
        }
        try:
            days = values["expires_in_days"].strip()
            if days and not days.isdigit():
                raise ValidationError.field("expires_in_days", "a whole number of days")
            issued = self._site.platform.users.create_api_token(
                visitor.caller,
                values["name"],
                timedelta(days=int(days)) if days else None,
                parse_scopes(values["scopes"]),
            )
        except ValidationError as refused:
            errors = field_errors(refused, LIFETIME_FIELD)
            self._show(req, resp, status=422, errors=errors, values=values)
            return
        self._show(req, resp, status=201, made=issued.token)
        resp.cache_control = ["no-store"]  # the secret is on this page, once


class RevokeToken:
    """Revokes a personal token or a session (``back``: the page to return to)."""

    def __init__(self, site: Site, back: str) -> None:
        self._site = site
        self._back = back

    def on_post(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        visitor, _ = self._site.posted(req, resp)
        self._site.platform.users.revoke_api_token(visitor.caller, TokenId(token_id))
        if token_id == visitor.session_id:  # this browser's own session: signed out
            self._site.sessions.end(req, resp, visitor.caller)
            see_other(resp, "/")
            return
        see_other(resp, f"{self._back}?revoked")


class Sessions:
    """``/account/sessions``: where the account is signed in, with Log out for each."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        site.pages.render(
            req,
            resp,
            "sessions.html",
            visitor,
            sessions=site.platform.users.list_sessions(visitor.caller),
            revoked=req.get_param("revoked") is not None,
        )


class Profile:
    """``/account/profile``: the display name and the visibility of new uploads."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(self, req: falcon.Request, resp: falcon.Response, **form: Any) -> None:
        site = self._site
        visitor = site.member(req, resp)
        user = signed_in(visitor)
        form.setdefault(
            "values",
            {
                "display_name": user.display_name,
                "default_visibility": user.default_visibility.value,
                "bio": user.bio,
                "mail_on_processing": "on" if user.mail_on_processing else "",
            },
        )
        site.show(
            req,
            resp,
            "profile.html",
            visitor,
            visibilities=[v.value for v in Visibility],
            saved=req.get_param("saved") is not None,
            moved=req.get_param("moved") is not None,
            **form,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._site.posted(req, resp)
        values = {
            "display_name": form.text("display_name"),
            "default_visibility": form.text("default_visibility"),
            "bio": form.text("bio"),
            "mail_on_processing": form.text("mail_on_processing"),
        }
        try:
            try:
                visibility = Visibility(values["default_visibility"])
            except ValueError:
                raise ValidationError.field(
                    "default_visibility", "choose public, unlisted or private"
                ) from None
            self._site.platform.users.update_profile(
                visitor.caller,
                UpdateProfile(
                    display_name=values["display_name"],
                    default_visibility=visibility,
                    bio=values["bio"],
                    mail_on_processing=values["mail_on_processing"] == "on",
                ),
            )
        except ValidationError as refused:
            self._show(req, resp, status=422, errors=field_errors(refused), values=values)
            return
        see_other(resp, "/account/profile?saved")


class TwoFactor:
    """``/account/two-factor``: turn two-factor login on (the password, then a QR code
    and a first code; the recovery codes shown once), make new recovery codes, or turn
    it off (the password and a code). ``step`` is the form: begin, confirm, codes, off."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def _show(self, req: falcon.Request, resp: falcon.Response, **page: Any) -> None:
        site = self._site
        visitor = site.member(req, resp)
        user = site.platform.users.me(visitor.caller)
        site.show(
            req,
            resp,
            "two_factor.html",
            visitor,
            on=user.two_factor_on,
            required=bool(user.roles & site.platform.settings.limits().two_factor_roles),
            enrolment=page.pop("enrolment", None),
            codes=page.pop("codes", None),
            done=page.pop("done", req.get_param("done")),
            failed=page.pop("failed", None),
            **page,
        )
        resp.cache_control = ["no-store"]

    def on_get(self, req: falcon.Request, resp: falcon.Response, step: str = "") -> None:
        if step:
            raise falcon.HTTPNotFound()
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response, step: str = "") -> None:
        if step not in ("begin", "confirm", "codes", "off"):
            raise falcon.HTTPNotFound()
        site = self._site
        visitor, form = site.posted(req, resp)
        users, caller = site.platform.users, visitor.caller
        try:
            if step == "begin":
                enrolment = users.begin_two_factor(caller, form.text("password"))
                self._show(req, resp, status=201, enrolment=enrolment)
            elif step == "confirm":
                codes = users.confirm_two_factor(caller, form.text("code"))
                self._show(req, resp, codes=codes, done="on")
            elif step == "codes":
                codes = users.new_recovery_codes(caller, form.text("password"))
                self._show(req, resp, codes=codes, done="codes")
            else:
                users.disable_two_factor(caller, form.text("password"), form.text("code"))
                see_other(resp, "/account/two-factor?done=off")
        except (ValidationError, InvalidTransition, TooManyAttempts) as refused:
            if isinstance(refused, TooManyAttempts):
                resp.set_header("Retry-After", str(refused.retry_after))
                errors = {"form": f"Too many attempts. Try again in {refused.retry_after} seconds."}
                self._show(req, resp, status=429, errors=errors, failed=step)
            elif isinstance(refused, InvalidTransition):
                self._show(req, resp, status=409, errors={"form": str(refused)}, failed=step)
            else:
                errors = field_errors(refused)
                if step == "off":  # its fields are named apart from the other form's
                    errors = {(k if k == "form" else f"off_{k}"): v for k, v in errors.items()}
                self._show(req, resp, status=422, errors=errors, failed=step)


class EmailAddress:
    """``/account/email``: move the account to another address (the password again; a
    code goes to the new address)."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        site.show(req, resp, "email.html", visitor, sent=req.get_param("sent") is not None)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp)
        values = {"email": form.text("email").strip()}
        try:
            site.platform.users.request_email_change(
                visitor.caller, form.text("password"), values["email"]
            )
        except (ValidationError, TooManyAttempts) as refused:
            site.refused(req, resp, "email.html", visitor, refused, values, sent=False)
            return
        see_other(resp, "/account/email?sent")


class ConfirmEmailAddress:
    """``/account/email/confirm``: the code mailed to the new address (the mail links
    here with the code in the fragment)."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        code_page(self._site, req, resp, "email_confirm.html")

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp, member=False)
        code = form.text("code").strip()
        try:
            site.platform.users.confirm_email_change(code, visitor.caller)
        except (ValidationError, Conflict) as refused:
            wrong = (
                refused
                if isinstance(refused, Conflict)
                else ValidationError.field("code", "That code is wrong or has expired.")
            )
            site.refused(req, resp, "email_confirm.html", visitor, wrong, {"code": code})
            return
        see_other(resp, "/account/profile?moved")


class DeleteAccount:
    """``/account/delete``: delete the account (the password again, and a code where
    two-factor login is on); the visitor is signed out."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        site.show(req, resp, "delete_account.html", visitor)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, form = site.posted(req, resp)
        try:
            site.platform.users.delete_account(
                visitor.caller, form.text("password"), form.text("code")
            )
        except (ValidationError, Conflict, TooManyAttempts) as refused:
            site.refused(req, resp, "delete_account.html", visitor, refused, {})
            return
        site.sessions.end(req, resp, visitor.caller)
        see_other(resp, "/")


class ExportData:
    """``/account/export``: ask for an archive of one's data; its link (one download)
    is shown once, and works moments later."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor = site.member(req, resp)
        site.show(req, resp, "export.html", visitor, link=None)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        site = self._site
        visitor, _ = site.posted(req, resp)
        try:
            ticket = site.platform.users.request_export(visitor.caller)
        except TooManyAttempts as refused:
            site.refused(req, resp, "export.html", visitor, refused, {}, link=None)
            return
        link = f"/api/v1/exports/{ticket.export_id}/{ticket.secret}"
        site.show(req, resp, "export.html", visitor, status=202, link=link, ticket=ticket)
        resp.cache_control = ["no-store"]  # the link is on this page, once


class RemoveAvatar:
    """Removes the signed-in visitor's avatar, back to the profile page."""

    def __init__(self, site: Site) -> None:
        self._site = site

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, _ = self._site.posted(req, resp)
        self._site.platform.users.remove_avatar(visitor.caller)
        see_other(resp, "/account/profile?saved")
