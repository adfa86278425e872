"""Planning pages: MRP runs (run one now, read one, compare two) and the kitting check (齐套分析),
each through the planning domain's services (``runs``, ``kitting_service``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from server.domain.planning import kitting_service, runs
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
from server.web.backoffice.queries import make_products, warehouse_codes
from shared.errors import DomainError

__all__ = ["PlanningPages"]

LIST_LIMIT = 100
NAME = kitting_service.MAX_NAME


def parse_date(text: str | None) -> dt.date | None:
    """A YYYY-MM-DD date, or None when it is not one."""
    try:
        return dt.date.fromisoformat((text or "").strip()) if len((text or "").strip()) == 10 else None
    except ValueError:
        return None


async def _runs_page(request: Req, ctx: Ctx, status: int = 200, error: str | None = None,
                     today: str | None = None) -> Response[str]:
    listed = await runs.list_runs(request.app.state.db, ctx.principal, LIST_LIMIT)
    return page(ctx, "planning.html", "nav_planning", status, error=error, runs=listed,
                today=today or now(request).date().isoformat())


class PlanningPages(Controller):
    path = "/backoffice/planning"
    include_in_schema = False

    @get("")
    async def index(self, request: Req) -> Response[str]:
        return await _runs_page(request, await require(request))

    @post("/runs", status_code=200)
    async def run(self, request: Req) -> Response[Any]:
        ctx, form = await posted(request)
        raw = str(form.get("today") or "")
        today = parse_date(raw)
        if today is None:
            return await _runs_page(request, ctx, 400, f"{ctx.t('err_bad_date')} ({raw[:40]!r})", raw[:40])
        try:
            made = await runs.create_run(request.app.state.db, ctx.principal, runs.RunRequest(today), now(request))
        except DomainError as exc:
            return await _runs_page(request, ctx, status_of(exc), refusal(ctx.lang, exc), raw)
        return Redirect(f"/backoffice/planning/runs/{made.id}", status_code=303)

    @get("/runs/{run_id:str}")
    async def show(self, request: Req, run_id: FromPath[str],
                   q: Annotated[str, QueryParameter(max_length=100)] = "") -> Response[str]:
        """A run's exceptions and planned orders, those of SKUs containing ``q`` when given."""
        ctx = await require(request)
        run = await runs.get_run(request.app.state.db, ctx.principal, run_id)
        query = q.strip().lower()
        return page(ctx, "run.html", "nav_planning", run=run, query=q.strip(),
                    exceptions=[e for e in run.plan.exceptions if query in e.sku.lower()],
                    orders=[o for o in run.plan.planned_orders if query in o.sku.lower()])

    @get("/runs/{run_id:str}/allocation")
    async def allocation(self, request: Req, run_id: FromPath[str]) -> Response[str]:
        """Who got each buy and subcontract order of the run, at what price, and why the others lost."""
        ctx = await require(request)
        kept = await runs.get_run_allocation(request.app.state.db, ctx.principal, run_id)
        alloc = kept.get("allocation")
        return page(ctx, "allocation.html", "nav_planning", run_id=kept.get("id", run_id), today=kept.get("today", ""),
                    alloc=alloc if isinstance(alloc, dict) else None)

    @get("/compare")
    async def compare(self, request: Req, a: Annotated[str, QueryParameter(max_length=64)] = "",
                      b: Annotated[str, QueryParameter(max_length=64)] = "") -> Response[str]:
        ctx = await require(request)
        if not a or not b:
            return await _runs_page(request, ctx, 400, ctx.t("err_pick_runs"))
        return page(ctx, "compare.html", "nav_planning",
                    cmp=await runs.compare_runs(request.app.state.db, ctx.principal, a, b))

    @get("/kitting")
    async def kitting(self, request: Req, sku: Annotated[str, QueryParameter(max_length=NAME)] = "",
                      warehouse: Annotated[str, QueryParameter(max_length=NAME)] = "",
                      by: Annotated[str, QueryParameter(max_length=40)] = "") -> Response[str]:
        ctx = await require(request)
        db = request.app.state.db
        values: dict[str, Any] = {"products": await make_products(db),
                                  "warehouses": list((await warehouse_codes(db)).values()),
                                  "form": {"sku": sku, "warehouse": warehouse, "by": by}, "report": None}
        if not sku and not warehouse:
            return page(ctx, "kitting.html", "nav_planning", **values)
        by_date = parse_date(by) if by else None
        if by and by_date is None:
            return page(ctx, "kitting.html", "nav_planning", 400, error=f"{ctx.t('err_bad_date')} ({by!r})",
                        **values)
        try:
            values["report"] = await kitting_service.kitting(db, ctx.principal, sku, warehouse, by_date)
        except DomainError as exc:
            return page(ctx, "kitting.html", "nav_planning", status_of(exc), error=refusal(ctx.lang, exc), **values)
        return page(ctx, "kitting.html", "nav_planning", **values)
