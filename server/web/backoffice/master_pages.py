"""Master data pages: products, customers, suppliers, price agreements and warehouses as
filtered, paged lists (the filter box asks again with htmx as you type), and a product's BOM
through all levels with its stock."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter

from server.web.backoffice.base import Req, page, require
from server.web.backoffice.queries import MASTER_KINDS, MAX_QUERY, master_page, product_detail
from server.web.backoffice.render import html

__all__ = ["MasterPages"]

NUMERIC = frozenset({"lead_time_days", "safety_stock", "lot_qty", "standard_cost", "capacity_per_week", "min_qty",
                     "unit_price", "priority"})
DATES = frozenset({"valid_from", "valid_to"})


class MasterPages(Controller):
    path = "/backoffice/master"
    include_in_schema = False

    @get("/{kind:str}")
    async def rows(self, request: Req, kind: FromPath[str],
                   q: Annotated[str, QueryParameter(max_length=MAX_QUERY)] = "",
                   page_no: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1) -> Response[str]:
        ctx = await require(request)
        if kind not in MASTER_KINDS:
            raise NotFoundException(f"there is no master data list {kind[:60]!r}; "
                                    f"the lists are {', '.join(MASTER_KINDS)}")
        found = await master_page(request.app.state.db, kind, q, page_no)
        values: dict[str, Any] = {"page": found, "numeric": NUMERIC, "dates": DATES}
        if request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "rows":
            return html("_master_rows.html", ctx.lang, **values)
        return page(ctx, "master.html", "nav_master", kinds=list(MASTER_KINDS), **values)

    @get("/product/{sku:str}")
    async def product(self, request: Req, sku: FromPath[str]) -> Response[str]:
        ctx = await require(request)
        detail = await product_detail(request.app.state.db, sku)
        if detail is None:
            return page(ctx, "error.html", "nav_master", 404, error=f"{ctx.t('err_no_product')} ({sku[:100]})")
        return page(ctx, "product.html", "nav_master", p=detail)
