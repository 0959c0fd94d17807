"""The web application's routes, mounted on the same Falcon app as the API and built on
the same application services (never HTTP calls to itself)."""

from __future__ import annotations

import falcon

from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.web import (
    account,
    admin,
    browse,
    errors,
    files,
    me,
    sharing,
    studio,
    watch,
)
from videoplatform.entrypoints.web.assets import STATIC, StaticAssets
from videoplatform.entrypoints.web.context import Site
from videoplatform.entrypoints.web.rendering import Pages, content_policy, media_origins
from videoplatform.entrypoints.web.session import WebSessions


def mount(
    app: falcon.App[falcon.Request, falcon.Response], platform: Platform, public_url: str
) -> None:
    assets = StaticAssets()
    pages = Pages(assets, content_policy(media_origins(platform.settings)))
    shared = Site(platform, pages, WebSessions(platform.users, public_url))
    grids = browse.Browse(shared)
    for path, resource in (
        ("/", browse.Home(grids)),
        ("/categories/{category_id}", browse.CategoryPage(grids, shared)),
        ("/channel/{user_id}", browse.Channel(grids, shared)),
        ("/search", browse.SearchPage(shared)),
        ("/watch/{video_id}", watch.Watch(shared)),
        ("/watch/{video_id}/view", watch.WatchView(shared)),
        ("/watch/{video_id}/source", watch.WatchSource(shared)),
        ("/login", account.LoginPage(shared)),
        ("/logout", account.LogoutPage(shared)),
        ("/register", account.RegisterPage(shared)),
        ("/verify", account.VerifyPage(shared)),
        ("/password/forgot", account.ForgotPasswordPage(shared)),
        ("/password/reset", account.ResetPasswordPage(shared)),
        ("/upload", studio.UploadPage(shared)),
        ("/my/videos", studio.MyVideos(shared)),
        ("/my/videos/{video_id}/edit", studio.EditVideo(shared)),
        ("/my/videos/{video_id}/delete", studio.DeleteVideo(shared)),
        ("/s", sharing.ShareLanding(shared)),
        ("/s/download", sharing.ShareDownload(shared)),
        ("/my/shares", sharing.MyShares(shared)),
        ("/my/shares/new", sharing.NewShare(shared, public_url)),
        ("/my/shares/{share_id}/revoke", sharing.RevokeShare(shared)),
        ("/account/profile", me.Profile(shared)),
        ("/account/tokens", me.Tokens(shared)),
        ("/account/two-factor", me.TwoFactor(shared)),
        ("/account/email", me.EmailAddress(shared)),
        ("/account/delete", me.DeleteAccount(shared)),
        ("/account/export", me.ExportData(shared)),
        ("/account/avatar/remove", me.RemoveAvatar(shared)),
        ("/account/email/confirm", me.ConfirmEmailAddress(shared)),
        ("/account/two-factor/{step}", me.TwoFactor(shared)),
        ("/account/tokens/{token_id}/revoke", me.RevokeToken(shared, "/account/tokens")),
        ("/account/sessions", me.Sessions(shared)),
        ("/account/sessions/{token_id}/revoke", me.RevokeToken(shared, "/account/sessions")),
        ("/admin/queue", admin.Queue(shared)),
        ("/admin/queue/{video_id}/retry", admin.Retry(shared)),
        ("/admin/users", admin.Users(shared)),
        ("/admin/users/{key}/{action}", admin.user_actions(shared)),
        ("/admin/categories", admin.Categories(shared)),
        ("/admin/categories/{key}/{action}", admin.category_actions(shared)),
        ("/admin/audit", admin.Audit(shared)),
        ("/my/files", files.MyFiles(shared)),
        ("/my/files/{file_id}/download", files.DownloadFile(shared)),
        ("/my/files/{file_id}/move", files.MoveFilePage(shared)),
        ("/my/files/{file_id}/delete", files.DeleteFilePage(shared)),
        (f"{STATIC}/{{path:path}}", assets),
    ):
        app.add_route(path, resource)
    errors.install(app, pages)
