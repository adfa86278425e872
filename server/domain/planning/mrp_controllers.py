"""HTTP handlers of planning: MRP runs (run, list, read, compare), the current plan and
production orders from sales orders. Parse, authenticate, one service call, respond; back office only (the services
check the role)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, Parameter

from server.domain.planning import production, runs
from server.domain.planning.current import CurrentPlanDoc
from server.domain.sync.controllers import principal_of
from server.web.wire import documented, read_body, respond

__all__ = ["PlanningController"]

Req = Request[Any, Any, State]


def _now(request: Req) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.app.state.clock.now_ms() / 1000, dt.UTC)


class PlanningController(Controller):
    path = "/api/v1/planning"
    tags = ("planning",)

    @post("/mrp/runs", status_code=201,
          operation_class=documented(runs.RunRequest, runs.Run, 201, errors=(400, 401, 403, 409)))
    async def run(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, runs.RunRequest)
        run = await runs.create_run(request.app.state.db, principal, body, _now(request))
        return respond(request, run, 201)

    @get("/mrp/runs", operation_class=documented(response=list[runs.RunSummary]))
    async def list_runs(self, request: Req, limit: int = Parameter(default=100, ge=1, le=1000)) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await runs.list_runs(request.app.state.db, principal, limit))

    @get("/mrp/runs/{run_id:str}", operation_class=documented(response=runs.Run, errors=(401, 403, 404)))
    async def get_run(self, request: Req, run_id: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await runs.get_run(request.app.state.db, principal, run_id))

    @get("/mrp/runs/{run_id:str}/allocation", operation_class=documented(errors=(401, 403, 404)))
    async def get_run_allocation(self, request: Req, run_id: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await runs.get_run_allocation(request.app.state.db, principal, run_id))

    @get("/mrp/runs/{a:str}/compare/{b:str}",
         operation_class=documented(response=runs.Comparison, errors=(401, 403, 404)))
    async def compare(self, request: Req, a: FromPath[str], b: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await runs.compare_runs(request.app.state.db, principal, a, b))

    @get("/current", operation_class=documented(response=CurrentPlanDoc, errors=(400, 401, 403, 409)))
    async def current(self, request: Req, today: FromQuery[dt.date | None] = None) -> Response[bytes]:
        """This process's current plan, brought up to the data as it is now by net change."""
        principal = await principal_of(request)
        return respond(request, await request.app.state.current_plan.read(principal, today))

    @post("/production-orders/from-sales-orders", status_code=201,
          operation_class=documented(production.FromSalesOrders, production.FromSalesOrdersResult, 201,
                                     errors=(400, 401, 403, 404, 409)))
    async def from_sales_orders(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, production.FromSalesOrders)
        s = request.app.state
        result = await production.from_sales_orders(s.db, s.clock, principal, body, _now(request))
        s.current_plan.stale()
        return respond(request, result, 201)
