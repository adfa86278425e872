"""The Sync page: devices (revoke one), the quarantine of refused changes, and conflicts; all
read and written through the sync domain's services."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from server.domain.sync import devices, quarantine
from server.web.backoffice.base import Req, check_origin, page, require
from server.web.backoffice.queries import warehouse_codes

__all__ = ["SyncPages"]

LIMIT = 200


class SyncPages(Controller):
    path = "/backoffice"
    include_in_schema = False

    @get("/")
    async def home(self, request: Req) -> Redirect:
        await require(request)
        return Redirect("/backoffice/sync", status_code=303)

    @get("/sync")
    async def sync(self, request: Req) -> Response[str]:
        ctx = await require(request)
        db = request.app.state.db
        codes = await warehouse_codes(db)
        rows = await devices.list_devices(db, ctx.principal)
        for d in rows:
            d["warehouse"] = codes.get(d["warehouse_id"], d["warehouse_id"] or "")
        rows.sort(key=lambda d: (d["role"], d["user"], d["created_at"]))
        return page(ctx, "sync.html", "nav_sync",
                    active=[d for d in rows if d["revoked_at"] is None],
                    revoked=[d for d in rows if d["revoked_at"] is not None],
                    rejected=await quarantine.rejected(db, ctx.principal, LIMIT),
                    conflicts=await quarantine.conflicts(db, ctx.principal, LIMIT))

    @post("/sync/devices/{device_id:str}/revoke", status_code=200)
    async def revoke(self, request: Req, device_id: FromPath[str]) -> Response[str]:
        """htmx swaps the device's row for this empty answer; a plain form goes back to the page."""
        ctx = await require(request)
        check_origin(request)
        await devices.revoke(request.app.state.db, ctx.principal, device_id)
        if request.headers.get("hx-request") == "true":
            return Response("", media_type="text/html")
        return Redirect("/backoffice/sync", status_code=303)
