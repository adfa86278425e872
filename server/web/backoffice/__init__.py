"""The back-office web UI: server-rendered pages (Jinja2, htmx) over the same domain services
the JSON API calls, in English and Simplified Chinese. ``docs/backoffice.md`` describes it.

``router()`` is the one thing ``server/app.py`` registers: every page under ``/backoffice``,
the static files (htmx, CSS) under ``/backoffice/static``, and exception handlers that turn a
refused request into a page that says what to do."""

from __future__ import annotations

from litestar import Router
from litestar.static_files import create_static_files_router

from server.web.backoffice.auth import AuthController
from server.web.backoffice.base import exception_handlers, refuse_nul, unknown_paths_as_pages
from server.web.backoffice.master_pages import MasterPages
from server.web.backoffice.orders_pages import OrdersPages
from server.web.backoffice.planning_pages import PlanningPages
from server.web.backoffice.procurement_pages import ProcurementPages
from server.web.backoffice.render import STATIC_DIR
from server.web.backoffice.sync_pages import SyncPages

__all__ = ["router", "unknown_paths_as_pages"]


def router() -> Router:
    static = create_static_files_router("/backoffice/static", [STATIC_DIR], name="backoffice-static",
                                        include_in_schema=False)
    pages = [AuthController, SyncPages, MasterPages, PlanningPages, OrdersPages, ProcurementPages]
    return Router(path="/", route_handlers=[*pages, static],
                  exception_handlers=exception_handlers, include_in_schema=False,
                  guards=[refuse_nul])
