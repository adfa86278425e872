"""The Litestar application factory: wiring only, no business rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from sqlalchemy import select

from server.config import Settings, load_settings
from server.db.engine import Database, open_database
from server.db.migrate import upgrade
from server.db.schema import sync_state
from server.domain.inventory.refresher import Refresher
from server.domain.masterdata.controllers import ImportController, MasterDataController
from server.domain.planning.current import CurrentPlan
from server.domain.planning.kitting_controllers import KittingController
from server.domain.planning.mrp_controllers import PlanningController
from server.domain.procurement.controllers import ProcurementController
from server.domain.sync.clock import ServerClock
from server.domain.sync.controllers import DeviceController, HealthController, SyncController
from server.domain.sync.devices import Authenticator
from server.errors import exception_handlers
from server.web import backoffice

__all__ = ["create_app", "open_service"]


async def open_service(settings: Settings) -> tuple[Database, str]:
    """Open the database, migrate it to the current schema, and read the cursor secret."""
    db = open_database(settings.database_url, concurrency=settings.pg_concurrency)
    await upgrade(db)
    async with db.read() as conn:
        secret = (await conn.execute(select(sync_state.c.secret).where(sync_state.c.id == 1))).scalar_one()
    return db, str(secret)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db, secret = await open_service(settings)
        app.state.db = db
        app.state.secret = secret
        app.state.settings = settings
        app.state.clock = ServerClock()
        app.state.authenticate = Authenticator(db, settings)
        app.state.refresher = Refresher(db, app.state.clock)
        app.state.current_plan = CurrentPlan(db, app.state.clock)
        app.state.refresher.followers.append(app.state.current_plan.pushed)
        await app.state.refresher.start()
        try:
            yield
        finally:
            await app.state.refresher.stop()
            await app.state.current_plan.close()
            await db.dispose()

    return Litestar(
        route_handlers=[HealthController, DeviceController, SyncController, MasterDataController, ImportController,
                        KittingController, PlanningController, ProcurementController, backoffice.router()],
        lifespan=[lifespan],
        exception_handlers={**exception_handlers,  # type: ignore[arg-type]
                            HTTPException: backoffice.unknown_paths_as_pages(exception_handlers[HTTPException])},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="fieldsync", version="1", path="/schema",
                                     render_plugins=[JsonRenderPlugin()]),
        debug=False,
    )
