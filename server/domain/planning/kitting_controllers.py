"""HTTP handler of kitting (齐套分析): parse, authenticate, one service call, respond."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromQuery, Parameter

from server.domain.planning import kitting_service
from server.domain.planning.kitting_service import KitReport
from server.domain.sync.principal import Principal
from server.web.wire import documented, respond

__all__ = ["KittingController"]

Req = Request[Any, Any, State]


async def principal_of(request: Req) -> Principal:
    return await request.app.state.authenticate(request.headers.get("authorization"))  # type: ignore[no-any-return]


class KittingController(Controller):
    path = "/api/v1/planning"
    tags = ("planning",)

    @get("/kitting", operation_class=documented(response=KitReport, errors=(400, 401, 403, 404)))
    async def kitting(self, request: Req,
                      sku: str = Parameter(min_length=1, max_length=kitting_service.MAX_NAME),
                      warehouse: str = Parameter(min_length=1, max_length=kitting_service.MAX_NAME),
                      by: FromQuery[dt.date | None] = None) -> Response[bytes]:
        """How many units of ``sku`` the stock of ``warehouse`` (its code) can build through the
        whole BOM, the components that run out first, and with ``by`` (YYYY-MM-DD) how many more
        units the open purchase and production orders due by then allow."""
        principal = await principal_of(request)
        s = request.app.state
        return respond(request, await kitting_service.kitting(s.db, principal, sku, warehouse, by))
