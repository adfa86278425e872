"""HTTP handlers of procurement (back office only; the services check the role): requisitions
from an MRP run, their edits and approval into purchase orders, purchase orders, expected
receipts, supplier scorecards. Parse, authenticate, one service call, respond."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, Parameter, QueryParameter

from server.domain.procurement import (
    expected_receipts,
    purchase_orders,
    requisition_service,
    scorecard_service,
)
from server.domain.sync.controllers import principal_of
from server.web.wire import documented, read_body, respond
from shared.errors import InvalidInput

__all__ = ["ProcurementController"]

Req = Request[Any, Any, State]
REQUISITION_STATES = ("draft", "approved")
ORDER_STATES = ("open", "closed")
Since = Annotated[dt.date | None, QueryParameter(name="from", description="first due date of the window")]
Until = Annotated[dt.date | None, QueryParameter(name="to", description="last due date of the window (default today)")]


class Refreshed(msgspec.Struct):
    written: int  # expected receipts written (the ones that differed from their lines)


def _now(request: Req) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.app.state.clock.now_ms() / 1000, dt.UTC)


def _one_of(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, got {value[:32]!r}", code="invalid_value")
    return value


class ProcurementController(Controller):
    path = "/api/v1/procurement"
    tags = ("procurement",)

    @post("/requisitions/from-run", status_code=201,
          operation_class=documented(requisition_service.FromRun, list[requisition_service.RequisitionOut], 201,
                                     errors=(400, 401, 403, 404, 409)))
    async def from_run(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, requisition_service.FromRun)
        out = await requisition_service.from_run(request.app.state.db, principal, body, _now(request))
        return respond(request, out, 201)

    @get("/requisitions", operation_class=documented(response=list[requisition_service.RequisitionOut]))
    async def list_requisitions(self, request: Req,
                                status: str | None = Parameter(default=None, max_length=32),
                                run_id: str | None = Parameter(default=None, max_length=64),
                                limit: int = Parameter(default=100, ge=1, le=1000)) -> Response[bytes]:
        principal = await principal_of(request)
        out = await requisition_service.list_requisitions(
            request.app.state.db, principal, _one_of("status", status, REQUISITION_STATES), run_id, limit)
        return respond(request, out)

    @get("/requisitions/{number:str}",
         operation_class=documented(response=requisition_service.RequisitionOut, errors=(401, 403, 404)))
    async def get_requisition(self, request: Req, number: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await requisition_service.get_requisition(request.app.state.db, principal, number))

    @patch("/requisitions/{number:str}/lines/{line_id:str}",
           operation_class=documented(requisition_service.LineEdit, requisition_service.RequisitionOut,
                                      errors=(400, 401, 403, 404, 409)))
    async def edit_line(self, request: Req, number: FromPath[str], line_id: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, requisition_service.LineEdit)
        out = await requisition_service.edit_line(request.app.state.db, principal, number, line_id, body,
                                                  _now(request))
        return respond(request, out)

    @delete("/requisitions/{number:str}/lines/{line_id:str}", status_code=200,
            operation_class=documented(response=requisition_service.RequisitionOut, errors=(401, 403, 404, 409)))
    async def remove_line(self, request: Req, number: FromPath[str], line_id: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        out = await requisition_service.remove_line(request.app.state.db, principal, number, line_id)
        return respond(request, out)

    @post("/requisitions/{number:str}/approve", status_code=201,
          operation_class=documented(response=purchase_orders.Approved, status=201, errors=(401, 403, 404, 409)))
    async def approve(self, request: Req, number: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        s = request.app.state
        approved = await purchase_orders.approve(s.db, s.clock, principal, number, _now(request))
        s.refresher.touch(("stock_move", "", {"product_id": i.product_id}) for i in approved.issues)
        return respond(request, approved, 201)

    @get("/purchase-orders", operation_class=documented(response=list[purchase_orders.PurchaseOrderOut]))
    async def list_purchase_orders(self, request: Req,
                                   status: str | None = Parameter(default=None, max_length=32),
                                   limit: int = Parameter(default=100, ge=1, le=1000)) -> Response[bytes]:
        principal = await principal_of(request)
        out = await purchase_orders.list_purchase_orders(request.app.state.db, principal,
                                                         _one_of("status", status, ORDER_STATES), limit)
        return respond(request, out)

    @post("/expected-receipts/refresh", status_code=200, operation_class=documented(response=Refreshed))
    async def refresh_expected(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        requisition_service.guard(principal)
        written = await expected_receipts.refresh_all(request.app.state.db, request.app.state.clock)
        return respond(request, Refreshed(written))

    @get("/scorecards", operation_class=documented(response=list[scorecard_service.ScorecardOut]))
    async def scorecards(self, request: Req,
                         start: Since = None,
                         end: Until = None) -> Response[bytes]:
        principal = await principal_of(request)
        out = await scorecard_service.scorecards_for(request.app.state.db, principal, _now(request).date(),
                                                     start, end)
        return respond(request, out)

    @get("/scorecards/{supplier:str}",
         operation_class=documented(response=scorecard_service.ScorecardOut, errors=(400, 401, 403, 404)))
    async def scorecard(self, request: Req, supplier: FromPath[str],
                        start: Since = None,
                        end: Until = None) -> Response[bytes]:
        principal = await principal_of(request)
        out = await scorecard_service.scorecards_for(request.app.state.db, principal, _now(request).date(),
                                                     start, end, supplier[:64])
        return respond(request, out[0])
