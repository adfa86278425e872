"""What every back-office page shares: who is signed in, in which language, the CSRF check of a
POST, rendering a page, and turning a refused request into a page that says what to do (a 4xx,
never a 500)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import FormMultiDict, State
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from server.domain.sync.principal import Principal
from server.errors import STATUS
from server.web.backoffice import session
from server.web.backoffice.i18n import LANG_COOKIE, Lang, choose, translator
from server.web.backoffice.labels_zh import REFUSALS_ZH
from server.web.backoffice.render import html
from shared.errors import DomainError, InvalidInput

__all__ = [
    "CrossSite",
    "Ctx",
    "LoginRequired",
    "Req",
    "check_origin",
    "exception_handlers",
    "form_of",
    "lang_of",
    "now",
    "page",
    "posted",
    "refusal",
    "refuse_nul",
    "require",
    "status_of",
    "unknown_paths_as_pages",
]

Req = Request[Any, Any, State]


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form."""


class CrossSite(Exception):
    """A POST whose Origin is not this site (or a non-htmx POST without one)."""


@dataclass(frozen=True)
class Ctx:
    principal: Principal
    lang: Lang
    here: str  # this page's path and query, for the language switch to come back to

    @property
    def t(self) -> Any:
        return translator(self.lang)


def lang_of(request: Req) -> Lang:
    return choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _here(request: Req) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def require(request: Req) -> Ctx:
    """The signed-in back-office principal, or LoginRequired."""
    s = request.app.state
    hashed = session.verify(s.secret, request.cookies.get(session.COOKIE), s.clock.now_ms() // 1000)
    principal = await session.principal_for(s.db, s.settings, hashed) if hashed else None
    if principal is None:
        raise LoginRequired
    return Ctx(principal, lang_of(request), _here(request))


async def posted(request: Req) -> tuple[Ctx, FormMultiDict]:
    """A form POSTed by a signed-in user from this site: who, and the form (else LoginRequired,
    CrossSite, or a 400 for a NUL)."""
    ctx = await require(request)
    check_origin(request)
    return ctx, await form_of(request)


def check_origin(request: Req) -> None:
    if not session.same_origin(request.headers.get("origin"), request.headers.get("host"),
                               request.headers.get("hx-request") == "true"):
        raise CrossSite


NUL_MESSAGE = "the request contains a NUL character, which no field may hold"


async def form_of(request: Req) -> FormMultiDict:
    """The posted form; a NUL in any field is refused (400), as PostgreSQL cannot store it."""
    form = await request.form()
    if any("\x00" in str(v) for _, v in form.multi_items()):
        raise InvalidInput(NUL_MESSAGE, code="invalid_value")
    return form


def refuse_nul(connection: ASGIConnection[Any, Any, Any, Any], _handler: Any) -> None:
    """A guard of every back-office route: a NUL in the path or the query is a 400, never a database error."""
    if "\x00" in unquote(connection.url.path) or "\x00" in unquote(connection.url.query or ""):
        raise InvalidInput(NUL_MESSAGE, code="invalid_value")


def now(request: Req) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.app.state.clock.now_ms() / 1000, dt.UTC)


def page(ctx: Ctx, template: str, section: str, status: int = 200, **context: Any) -> Response[str]:
    context.setdefault("error", None)
    context.setdefault("notice", None)
    return html(template, ctx.lang, status, section=section, here=ctx.here, user=ctx.principal.user,
                **context)


def status_of(exc: DomainError) -> int:
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


def refusal(lang: Lang, exc: DomainError) -> str:
    """What a page says of a service's refusal: its sentence (English, naming what it is
    about); on a Chinese page first what kind of refusal it is, in Chinese, by its stable code."""
    if lang == "zh":
        kind = REFUSALS_ZH.get(exc.code) or REFUSALS_ZH.get(type(exc).code) or "请求未被接受。"
        return f"{kind}（{exc.detail}）"
    return exc.detail


# ---- refused requests as pages -------------------------------------------------------------------


def _error_page(request: Req, status: int, message: str) -> Response[str]:
    return html("error.html", lang_of(request), status, section="", here=_here(request), user=None,
                error=message, notice=None)


def _login_required(request: Req, exc: LoginRequired) -> Response[Any]:
    if request.headers.get("hx-request") == "true":  # htmx follows this header, not a redirect
        return Response("", status_code=401, headers={"HX-Redirect": "/backoffice/login"})
    if request.method != "GET":
        return _error_page(request, 401, translator(lang_of(request))("msg_login_required"))
    return Redirect("/backoffice/login", status_code=303)


def _cross_site(request: Req, exc: CrossSite) -> Response[str]:
    return _error_page(request, 403, translator(lang_of(request))("err_cross_site"))


def _domain(request: Req, exc: DomainError) -> Response[str]:
    return _error_page(request, status_of(exc), refusal(lang_of(request), exc))


def _http(request: Req, exc: HTTPException) -> Response[str]:
    status = exc.status_code if exc.status_code < 500 else 503
    detail = str(exc.detail)
    extra = getattr(exc, "extra", None)
    if isinstance(extra, list):  # Litestar's validation errors: name each bad parameter
        detail += ": " + "; ".join(f"{e.get('key', '')} {e.get('message', '')}".strip()
                                   for e in extra if isinstance(e, dict))
    return _error_page(request, status, detail)


def unknown_paths_as_pages(fallback: Any) -> Any:
    """An app-wide handler of HTTP errors that answers a path under /backoffice that no page
    has (Litestar's routing 404, which never reaches this router's handlers) with a page that
    says so, and every other request with ``fallback``."""

    def handler(request: Req, exc: HTTPException) -> Response[Any]:
        if exc.status_code == 404 and (request.url.path + "/").startswith("/backoffice/"):
            return _error_page(request, 404, translator(lang_of(request))("err_no_page"))
        return fallback(request, exc)  # type: ignore[no-any-return]

    return handler


exception_handlers: dict[Any, Any] = {
    LoginRequired: _login_required,
    CrossSite: _cross_site,
    DomainError: _domain,
    HTTPException: _http,
}
