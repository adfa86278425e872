"""HTTP handlers of the back office's master data (docs/import.md): parse, authenticate, one
service call, respond."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, Parameter

from server.domain.masterdata import service
from server.domain.masterdata.service import ImportRequest, ImportSummary, MasterRows, RowsRequest
from server.domain.sync.controllers import principal_of
from server.web.wire import documented, read_body, respond

__all__ = ["ImportController", "MasterDataController"]

Req = Request[Any, Any, State]


class MasterDataController(Controller):
    path = "/api/v1/master"
    tags = ("master data",)

    @get("/{kind:str}", operation_class=documented(response=MasterRows, errors=(400, 401, 403, 404)))
    async def list(self, request: Req, kind: FromPath[str],
                   limit: int = Parameter(default=1000, ge=1, le=10000),
                   offset: int = Parameter(default=0, ge=0)) -> Response[bytes]:
        principal = await principal_of(request)
        return respond(request, await service.list_rows(request.app.state.db, principal, kind, limit, offset))

    @post("/{kind:str}", status_code=200,
          operation_class=documented(RowsRequest, ImportSummary, errors=(400, 401, 403, 404)))
    async def upsert(self, request: Req, kind: FromPath[str]) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, RowsRequest)
        s = request.app.state
        summary = await service.upsert_rows(s.db, s.clock, principal, kind, body.rows, dry_run=body.dry_run)
        if not body.dry_run:
            s.current_plan.stale()  # master data is planning input: re-plan in the background
        return respond(request, summary)


class ImportController(Controller):
    path = "/api/v1/import"
    tags = ("master data",)

    @post("", status_code=200, operation_class=documented(ImportRequest, ImportSummary))
    async def import_files(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, ImportRequest)
        s = request.app.state
        summary = await service.import_files(s.db, s.clock, principal, body.files, dry_run=body.dry_run)
        if not body.dry_run:
            s.current_plan.stale()
        return respond(request, summary)
