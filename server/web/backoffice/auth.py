"""Signing in and out of the back office, and the language switch.

A user pastes a token the API already knows (the bootstrap token or a device token); the existing
Authenticator decides who it is, only the back-office role may pass, and the session becomes a
signed, HttpOnly, SameSite=Strict cookie (``session.py``)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from server.domain.sync import devices
from server.web.backoffice import session
from server.web.backoffice.base import Req, check_origin, form_of, lang_of
from server.web.backoffice.i18n import LANG_COOKIE, LANGS, translator, value_translator
from server.web.backoffice.render import html
from shared.errors import Conflict, NotAuthenticated
from shared.registry import Role

__all__ = ["AuthController"]

YEAR_S = 365 * 24 * 3600


def _login_page(request: Req, status: int = 200, error: str | None = None,
                notice: str | None = None) -> Response[str]:
    return html("login.html", lang_of(request), status, error=error, notice=notice)


def _secure(request: Req) -> bool:
    return request.url.scheme == "https"


def _session_cookie(request: Req, token: str) -> Cookie:
    s = request.app.state
    value = session.sign(s.secret, session.token_hash(token), s.clock.now_ms() // 1000)
    return Cookie(key=session.COOKIE, value=value, path="/backoffice", httponly=True, samesite="strict",
                  secure=_secure(request), max_age=session.MAX_AGE_S)


async def _sign_in_with_code(request: Req, code: str) -> Response[str]:
    """A back-office device's one-time enrolment code (what ``serve --demo`` prints) enrols this
    browser as that device and signs it in; the token it gets is shown once, to sign in again
    later. A code of another role is refused and left unspent, for the device it belongs to."""
    lang = lang_of(request)
    t = translator(lang)
    s = request.app.state
    role = await devices.enrolment_role(s.db, code)
    if role is None:
        return _login_page(request, 401, t("err_code_unknown"))
    if role != Role.BACKOFFICE.value:
        return _login_page(request, 403, t("err_code_role", role=value_translator(lang)("role_", role)))
    try:
        enrolled = await devices.enrol(s.db, s.clock, code)
    except (NotAuthenticated, Conflict):  # spent or expired since the look above
        return _login_page(request, 401, t("err_code_unknown"))
    response = html("enrolled.html", lang, token=enrolled.token, user=enrolled.user)
    response.set_cookie(_session_cookie(request, enrolled.token))
    return response


class AuthController(Controller):
    path = "/backoffice"
    include_in_schema = False

    @get("/login")
    async def login_form(self, request: Req) -> Response[str]:
        return _login_page(request)

    @post("/login", status_code=200)
    async def login(self, request: Req) -> Response[str]:
        check_origin(request)
        t = translator(lang_of(request))
        form = await form_of(request)
        token = str(form.get("token") or "").strip()
        if not token:
            return _login_page(request, 400, t("err_token_missing"))
        try:
            principal = await request.app.state.authenticate(f"Bearer {token}")
        except NotAuthenticated:
            if devices.looks_like_code(token):
                return await _sign_in_with_code(request, token)
            return _login_page(request, 401, t("err_token_unknown"))
        if not principal.is_backoffice:
            role = value_translator(lang_of(request))("role_", principal.role.value)
            return _login_page(request, 403, t("err_token_role", role=role))
        return Redirect("/backoffice/", status_code=303, cookies=[_session_cookie(request, token)])

    @post("/logout", status_code=200)
    async def logout(self, request: Req) -> Response[str]:
        check_origin(request)
        response = _login_page(request, notice=translator(lang_of(request))("msg_logged_out"))
        response.delete_cookie(session.COOKIE, path="/backoffice")
        return response

    @get("/lang/{code:str}")
    async def switch_language(self, request: Req, code: FromPath[str],
                              next_: Annotated[str, QueryParameter(name="next", max_length=2000)] = "/backoffice/"
                              ) -> Redirect:
        """Remember the language and go back to the page it was chosen on (only back-office
        paths, so the switch cannot send anyone elsewhere)."""
        lang = code if code in LANGS else "en"
        target = next_ if next_.startswith("/backoffice") and "//" not in next_ and "\\" not in next_ \
            else "/backoffice/"
        return Redirect(target, status_code=303, cookies=[Cookie(
            key=LANG_COOKIE, value=lang, path="/backoffice", samesite="lax", max_age=YEAR_S,
            secure=_secure(request))])
