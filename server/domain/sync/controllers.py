"""HTTP handlers of PROTOCOL.md: parse, authenticate, one service call, respond."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, Parameter

from server.domain.sync import devices, quarantine
from server.domain.sync import pull as pull_service
from server.domain.sync import push as push_service
from server.domain.sync.principal import Principal
from server.web.wire import documented, read_body, respond
from sync.protocol import (
    DeviceCreate,
    DeviceCreated,
    Enrol,
    Enrolled,
    Health,
    PullResponse,
    PushRequest,
    PushResponse,
)

__all__ = ["DeviceController", "HealthController", "SyncController"]

Req = Request[Any, Any, State]


async def principal_of(request: Req) -> Principal:
    return await request.app.state.authenticate(request.headers.get("authorization"))  # type: ignore[no-any-return]


async def sync_principal_of(request: Req) -> Principal:
    """For push and pull, which check revocation again inside their own transaction."""
    return await request.app.state.authenticate.for_sync(request.headers.get("authorization"))  # type: ignore[no-any-return]


class HealthController(Controller):
    path = "/api/v1/health"

    @get("", operation_class=documented(response=Health, errors=()))
    async def health(self, request: Req) -> Response[bytes]:
        return respond(request, Health(status="ok"))


class DeviceController(Controller):
    path = "/api/v1/devices"
    tags = ("devices",)

    @post("", operation_class=documented(DeviceCreate, DeviceCreated, 201))
    async def create(self, request: Req) -> Response[bytes]:
        principal = await principal_of(request)
        body = await read_body(request, DeviceCreate)
        s = request.app.state
        return respond(request, await devices.create_device(s.db, s.settings, principal, body), 201)

    @get("", operation_class=documented(response=list[dict[str, Any]]))
    async def list(self, request: Req) -> Response[bytes]:
        return respond(request, await devices.list_devices(request.app.state.db, await principal_of(request)))

    @post("/enrol", operation_class=documented(Enrol, Enrolled, errors=(400, 401, 409)))
    async def enrol(self, request: Req) -> Response[bytes]:
        body = await read_body(request, Enrol)
        s = request.app.state
        return respond(request, await devices.enrol(s.db, s.clock, body.enrolment_code))

    @delete("/{device_id:str}", status_code=204, operation_class=documented(status=204, errors=(401, 403, 404)))
    async def revoke(self, request: Req, device_id: FromPath[str]) -> None:
        await devices.revoke(request.app.state.db, await principal_of(request), device_id)


class SyncController(Controller):
    path = "/api/v1/sync"
    tags = ("sync",)

    @post("/push", status_code=200, operation_class=documented(PushRequest, PushResponse, errors=(400, 401, 403, 409)))
    async def push(self, request: Req) -> Response[bytes]:
        principal = await sync_principal_of(request)
        body = await read_body(request, PushRequest)
        s = request.app.state
        response = await push_service.push(s.db, s.clock, s.settings, principal, body)
        refused = {r.seq for r in response.rejected}
        s.refresher.touch((c.table, c.pk, c.vals) for c in body.changes
                          if c.seq <= response.acked and c.seq not in refused)
        return respond(request, response)

    @get("/pull", operation_class=documented(response=PullResponse))
    async def pull(self, request: Req,
                   cursor: str | None = Parameter(default=None, max_length=512),
                   limit: int = Parameter(default=1000, ge=1, le=5000)) -> Response[bytes]:
        principal = await sync_principal_of(request)
        s = request.app.state
        return respond(request, await pull_service.pull(s.db, s.clock, s.secret, principal, cursor, limit))

    @get("/rejected", operation_class=documented(response=list[dict[str, Any]]))
    async def rejected(self, request: Req, limit: int = Parameter(default=200, ge=1, le=5000)) -> Response[bytes]:
        return respond(request, await quarantine.rejected(request.app.state.db, await principal_of(request), limit))

    @get("/conflicts", operation_class=documented(response=list[dict[str, Any]]))
    async def conflicts(self, request: Req, limit: int = Parameter(default=200, ge=1, le=5000)) -> Response[bytes]:
        return respond(request, await quarantine.conflicts(request.app.state.db, await principal_of(request), limit))
