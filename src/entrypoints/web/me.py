"""The signed-in user's own settings: profile, personal API tokens, active sessions."""

from __future__ import annotations

from datetime import timedelta

import falcon

from videoplatform.application.users import UpdateProfile
from videoplatform.domain.errors import ValidationError
from videoplatform.domain.ids import TokenId
from videoplatform.domain.visibility import Visibility
from videoplatform.entrypoints.web.account import see_other
from videoplatform.entrypoints.web.studio import Studio, signed_in


class Tokens:
    """``/account/tokens``: the personal tokens (for scripts and the API), a form to
    make one (its secret shown once), and Revoke."""

    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        *,
        status: int = 200,
        made: str | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        studio = self._studio
        visitor = studio.sessions.visitor(req, resp)
        signed_in(visitor)
        studio.pages.render(
            req,
            resp,
            "tokens.html",
            visitor,
            status=status,
            tokens=studio.platform.users.list_api_tokens(visitor.caller),
            made=made,
            errors=errors or {},
            values=values or {},
            revoked=req.get_param("revoked") is not None,
        )
        if made:
            resp.cache_control = ["no-store"]  # the secret is on this page, once

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._studio.posted(req, resp)
        values = {"name": form.text("name"), "expires_in_days": form.text("expires_in_days")}
        try:
            days = values["expires_in_days"].strip()
            if days and not days.isdigit():
                raise ValidationError.field("expires_in_days", "a whole number of days")
            issued = self._studio.platform.users.create_api_token(
                visitor.caller, values["name"], timedelta(days=int(days)) if days else None
            )
        except ValidationError as refused:
            errors = {
                {"expires_in": "expires_in_days"}.get(k, k): v for k, v in refused.fields.items()
            } or {"form": refused.message}
            self._show(req, resp, status=422, errors=errors, values=values)
            return
        self._show(req, resp, status=201, made=issued.token)


class RevokeToken:
    """Revokes a personal token or a session (``next`` says which page to go back to)."""

    def __init__(self, studio: Studio, back: str) -> None:
        self._studio = studio
        self._back = back

    def on_post(self, req: falcon.Request, resp: falcon.Response, token_id: str) -> None:
        visitor, _ = self._studio.posted(req, resp)
        self._studio.platform.users.revoke_api_token(visitor.caller, TokenId(token_id))
        if token_id == visitor.session_id:  # this browser's own session: signed out
            self._studio.sessions.end(req, resp, visitor.caller)
            see_other(resp, "/")
            return
        see_other(resp, f"{self._back}?revoked")


class Sessions:
    """``/account/sessions``: where the account is signed in, with Log out for each."""

    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        studio = self._studio
        visitor = studio.sessions.visitor(req, resp)
        signed_in(visitor)
        studio.pages.render(
            req,
            resp,
            "sessions.html",
            visitor,
            sessions=studio.platform.users.list_sessions(visitor.caller),
            revoked=req.get_param("revoked") is not None,
        )


class Profile:
    """``/account/profile``: the display name and the visibility of new uploads."""

    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def _show(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> None:
        studio = self._studio
        visitor = studio.sessions.visitor(req, resp)
        user = signed_in(visitor)
        studio.pages.render(
            req,
            resp,
            "profile.html",
            visitor,
            status=status,
            errors=errors or {},
            values=values
            or {
                "display_name": user.display_name,
                "default_visibility": user.default_visibility.value,
            },
            visibilities=[v.value for v in Visibility],
            saved=req.get_param("saved") is not None,
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._show(req, resp)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        visitor, form = self._studio.posted(req, resp)
        values = {
            "display_name": form.text("display_name"),
            "default_visibility": form.text("default_visibility"),
        }
        try:
            try:
                visibility = Visibility(values["default_visibility"])
            except ValueError:
                raise ValidationError.field(
                    "default_visibility", "choose public, unlisted or private"
                ) from None
            self._studio.platform.users.update_profile(
                visitor.caller,
                UpdateProfile(display_name=values["display_name"], default_visibility=visibility),
            )
        except ValidationError as refused:
            errors = dict(refused.fields) or {"form": refused.message}
            self._show(req, resp, status=422, errors=errors, values=values)
            return
        see_other(resp, "/account/profile?saved")
