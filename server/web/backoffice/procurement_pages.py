"""Procurement pages: requisitions made from an MRP run and their approval into purchase orders,
the purchase orders, and supplier scorecards; each through the procurement domain's services
(``requisition_service``, ``purchase_orders``, ``scorecard_service``)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, QueryParameter

from server.domain.planning import runs
from server.domain.procurement import purchase_orders, requisition_service, scorecard_service
from server.web.backoffice.base import (
    Ctx,
    Req,
    check_origin,
    now,
    page,
    posted,
    refusal,
    require,
    status_of,
)
from server.web.backoffice.planning_pages import parse_date
from shared.errors import DomainError

__all__ = ["ProcurementPages"]

LIMIT = 200
STATES = ("draft", "approved")
CENT = Decimal("0.01")


def _total(req: requisition_service.RequisitionOut) -> Decimal | None:
    """The requisition's value at its lines' prices, to the cent (None when a line has no price yet)."""
    if any(ln.unit_price is None for ln in req.lines):
        return None
    total = sum((Decimal(ln.qty) * Decimal(ln.unit_price or 0) for ln in req.lines), Decimal(0))
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


async def _requisitions_page(request: Req, ctx: Ctx, status_filter: str = "", code: int = 200,
                             error: str | None = None, notice: str | None = None,
                             approved: purchase_orders.Approved | None = None) -> Response[str]:
    db = request.app.state.db
    listed = await requisition_service.list_requisitions(db, ctx.principal, status_filter or None, None, LIMIT)
    return page(ctx, "requisitions.html", "nav_procurement", code, error=error, notice=notice, approved=approved,
                requisitions=[(r, _total(r)) for r in listed], status_filter=status_filter, states=STATES,
                runs=await runs.list_runs(db, ctx.principal, 50))


class ProcurementPages(Controller):
    path = "/backoffice/procurement"
    include_in_schema = False

    @get("/requisitions")
    async def requisitions(self, request: Req,
                           status: Annotated[str, QueryParameter(max_length=16)] = "") -> Response[str]:
        ctx = await require(request)
        return await _requisitions_page(request, ctx, status if status in STATES else "")

    @get("/requisitions/{number:str}")
    async def requisition(self, request: Req, number: FromPath[str]) -> Response[str]:
        ctx = await require(request)
        req = await requisition_service.get_requisition(request.app.state.db, ctx.principal, number)
        return page(ctx, "requisition.html", "nav_procurement", r=req, total=_total(req))

    @post("/requisitions/from-run", status_code=200)
    async def from_run(self, request: Req) -> Response[Any]:
        ctx, form = await posted(request)
        run_id = str(form.get("run_id") or "").strip()[:64]
        if not run_id:
            return await _requisitions_page(request, ctx, code=400, error=ctx.t("err_pick_run"))
        try:
            made = await requisition_service.from_run(request.app.state.db, ctx.principal,
                                                      requisition_service.FromRun(run_id), now(request))
        except DomainError as exc:
            return await _requisitions_page(request, ctx, code=status_of(exc), error=refusal(ctx.lang, exc))
        return await _requisitions_page(request, ctx, notice=ctx.t("msg_requisitions", n=len(made)))

    @post("/requisitions/{number:str}/approve", status_code=200)
    async def approve(self, request: Req, number: FromPath[str]) -> Response[Any]:
        ctx = await require(request)
        check_origin(request)
        s = request.app.state
        try:
            approved = await purchase_orders.approve(s.db, s.clock, ctx.principal, number, now(request))
        except DomainError as exc:
            return await _requisitions_page(request, ctx, code=status_of(exc), error=refusal(ctx.lang, exc))
        # as the JSON API does: components sent to a subcontractor change availability
        s.refresher.touch(("stock_move", "", {"product_id": i.product_id}) for i in approved.issues)
        notice = ctx.t("msg_approved", number=approved.requisition,
                       orders=", ".join(o.number for o in approved.purchase_orders))
        return await _requisitions_page(request, ctx, notice=notice, approved=approved)

    @get("/purchase-orders")
    async def orders(self, request: Req) -> Response[str]:
        ctx = await require(request)
        listed = await purchase_orders.list_purchase_orders(request.app.state.db, ctx.principal, None, LIMIT)
        return page(ctx, "purchase_orders.html", "nav_procurement", orders=listed)

    @get("/scorecards")
    async def scorecards(self, request: Req, start: Annotated[str, QueryParameter(name="from", max_length=40)] = "",
                         end: Annotated[str, QueryParameter(name="to", max_length=40)] = "") -> Response[str]:
        ctx = await require(request)
        values: dict[str, Any] = {"form": {"from": start, "to": end}, "cards": []}
        first, last = parse_date(start), parse_date(end)
        if (start and first is None) or (end and last is None):
            bad = start if start and first is None else end
            return page(ctx, "scorecards.html", "nav_procurement", 400, error=f"{ctx.t('err_bad_date')} ({bad!r})",
                        **values)
        today: dt.date = now(request).date()
        try:
            values["cards"] = await scorecard_service.scorecards_for(request.app.state.db, ctx.principal, today,
                                                                     first, last)
        except DomainError as exc:
            return page(ctx, "scorecards.html", "nav_procurement", status_of(exc), error=refusal(ctx.lang, exc), **values)
        return page(ctx, "scorecards.html", "nav_procurement", **values)
