"""Sales orders → production orders (批量新增生产任务单): the open make-to-order sales orders
with a tick box each, and one POST that creates their production orders through
``production.from_sales_orders`` (one transaction; the orders move to ``scheduled``)."""

from __future__ import annotations

from litestar import Controller, Response, get, post

from server.domain.planning import production
from server.web.backoffice.base import (
    Ctx,
    Req,
    now,
    page,
    posted,
    refusal,
    require,
    status_of,
)
from server.web.backoffice.queries import open_make_orders, production_orders
from shared.errors import DomainError

__all__ = ["OrdersPages"]

MAX_ORDERS = 500  # what the service takes in one request


async def _page(request: Req, ctx: Ctx, status: int = 200, error: str | None = None, notice: str | None = None,
                created: production.FromSalesOrdersResult | None = None, chosen: tuple[str, ...] = (),
                combine: bool = True) -> Response[str]:
    db = request.app.state.db
    return page(ctx, "orders.html", "nav_orders", status, error=error, notice=notice, created=created,
                chosen=set(chosen), combine=combine, open_orders=await open_make_orders(db),
                production=await production_orders(db))


class OrdersPages(Controller):
    path = "/backoffice/orders"
    include_in_schema = False

    @get("")
    async def index(self, request: Req) -> Response[str]:
        return await _page(request, await require(request))

    @post("/production", status_code=200)
    async def create(self, request: Req) -> Response[str]:
        ctx, form = await posted(request)
        chosen = tuple(dict.fromkeys(str(v).strip()[:100] for v in form.getall("order", []) if str(v).strip()))
        combine = bool(form.get("combine"))
        if not chosen:
            return await _page(request, ctx, 400, ctx.t("err_no_orders"), combine=combine)
        if len(chosen) > MAX_ORDERS:
            return await _page(request, ctx, 400, f"at most {MAX_ORDERS} sales orders at once", combine=combine)
        s = request.app.state
        try:
            result = await production.from_sales_orders(
                s.db, s.clock, ctx.principal, production.FromSalesOrders(list(chosen), combine), now(request))
        except DomainError as exc:
            return await _page(request, ctx, status_of(exc), refusal(ctx.lang, exc), chosen=chosen, combine=combine)
        notice = ctx.t("msg_created", n=len(result.production_orders), m=len(result.sales_orders))
        return await _page(request, ctx, notice=notice, created=result)
