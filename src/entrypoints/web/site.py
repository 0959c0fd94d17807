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
from videoplatform.entrypoints.web.rendering import Pages, content_policy, media_origins
from videoplatform.entrypoints.web.session import WebSessions


def mount(
    app: falcon.App[falcon.Request, falcon.Response], platform: Platform, public_url: str
) -> None:
    assets = StaticAssets()
    pages = Pages(assets, content_policy(media_origins(platform.settings)))
    sessions = WebSessions(platform.users, public_url)
    grids = browse.Browse(platform, pages, sessions)
    forms = account.AccountForms(platform, pages, sessions)
    creators = studio.Studio(platform, pages, sessions)
    for path, resource in (
        ("/", browse.Home(grids)),
        ("/categories/{category_id}", browse.CategoryPage(grids)),
        ("/channel/{user_id}", browse.Channel(grids, platform)),
        ("/search", browse.SearchPage(platform, pages, sessions)),
        ("/watch/{video_id}", watch.Watch(platform, pages, sessions)),
        ("/watch/{video_id}/view", watch.WatchView(platform, sessions)),
        ("/login", account.LoginPage(forms)),
        ("/logout", account.LogoutPage(forms)),
        ("/register", account.RegisterPage(forms)),
        ("/verify", account.VerifyPage(forms)),
        ("/password/forgot", account.ForgotPasswordPage(forms)),
        ("/password/reset", account.ResetPasswordPage(forms)),
        ("/upload", studio.UploadPage(creators)),
        ("/my/videos", studio.MyVideos(creators)),
        ("/my/videos/{video_id}/edit", studio.EditVideo(creators)),
        ("/my/videos/{video_id}/delete", studio.DeleteVideo(creators)),
        ("/s", sharing.ShareLanding(pages, sessions)),
        ("/s/download", sharing.ShareDownload(platform, sessions)),
        ("/my/shares", sharing.MyShares(creators)),
        ("/my/shares/new", sharing.NewShare(creators, public_url)),
        ("/my/shares/{share_id}/revoke", sharing.RevokeShare(creators)),
        ("/account/profile", me.Profile(creators)),
        ("/account/tokens", me.Tokens(creators)),
        ("/account/tokens/{token_id}/revoke", me.RevokeToken(creators, "/account/tokens")),
        ("/account/sessions", me.Sessions(creators)),
        ("/account/sessions/{token_id}/revoke", me.RevokeToken(creators, "/account/sessions")),
        ("/admin/queue", admin.Queue(creators)),
        ("/admin/queue/{video_id}/retry", admin.Retry(creators)),
        ("/admin/users", admin.Users(creators)),
        ("/admin/users/{user_id}/{action}", admin.UserAction(creators)),
        ("/admin/categories", admin.Categories(creators)),
        ("/admin/categories/{category_id}/{action}", admin.CategoryAction(creators)),
        ("/admin/audit", admin.Audit(creators)),
        ("/my/files", files.MyFiles(creators)),
        ("/my/files/{file_id}/download", files.DownloadFile(creators)),
        ("/my/files/{file_id}/move", files.MoveFilePage(creators)),
        ("/my/files/{file_id}/delete", files.DeleteFilePage(creators)),
        (f"{STATIC}/{{path:path}}", assets),
    ):
        app.add_route(path, resource)
    errors.install(app, pages)
