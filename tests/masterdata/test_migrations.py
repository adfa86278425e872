"""Revision 0002 (master data): a fresh database migrates to head, and a database at 0001 that
already holds data upgrades keeping every row, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from server.db.engine import open_database
from server.db.masterdata import MASTER_TABLES
from server.db.migrate import alembic_config, current_revision, head_revision, upgrade
from server.db.schema import metadata, sql_tables
from server.domain.masterdata.importer import run_import
from server.domain.sync.clock import ServerClock
from tests.masterdata.helpers import demo_files

OLD_PRODUCT = "0192f0c4-0000-7000-8000-000000000001"
OLD_WAREHOUSE = "0192f0c4-0000-7000-8000-000000000002"
OLD_CUSTOMER = "0192f0c4-0000-7000-8000-000000000003"
OLD_MOVE = "0192f0c4-0000-7000-8000-000000000004"


def _upgrade_to(conn: Any, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def _tables(conn: Any) -> set[str]:
    return set(inspect(conn).get_table_names())


def _diff(conn: Any) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


@pytest.mark.anyio
async def test_a_fresh_database_migrates_to_head_and_matches_the_schema(db_url: str) -> None:
    db = open_database(db_url)
    try:
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        async with db.read() as conn:
            assert set(MASTER_TABLES) <= await conn.run_sync(_tables)
            assert await conn.run_sync(_diff) == []  # the migrations build exactly server.db.schema
        await upgrade(db)  # a no-op at head
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


@pytest.mark.anyio
async def test_a_database_at_0001_with_data_upgrades_keeping_its_rows(db_url: str) -> None:
    db = open_database(db_url)
    try:
        async with db.write() as conn:
            await conn.run_sync(_upgrade_to, "0001")
            assert not set(MASTER_TABLES) & await conn.run_sync(_tables)
            await conn.execute(text("INSERT INTO warehouse (id, code, name, _rev) VALUES (:id, 'WH1', 'Old main', 1)"),
                               {"id": OLD_WAREHOUSE})
            await conn.execute(text("INSERT INTO product (id, sku, name, kind, safety_stock, _rev) "
                                    "VALUES (:id, 'FG-DESK-140', 'Old desk', 'make', '3', 1)"), {"id": OLD_PRODUCT})
            await conn.execute(text("INSERT INTO customer (id, name, owner, _rev) VALUES (:id, 'Walk-in', 'alice', 1)"),
                               {"id": OLD_CUSTOMER})
            await conn.execute(text("INSERT INTO stock_move (id, product_id, warehouse_id, qty, kind, _ts, _site, _rev) "
                                    "VALUES (:id, :p, :w, '4', 'receipt', 1, 'server', 1)"),
                               {"id": OLD_MOVE, "p": OLD_PRODUCT, "w": OLD_WAREHOUSE})

        await upgrade(db)
        assert await current_revision(db) == head_revision()
        async with db.read() as conn:
            product = (await conn.execute(select(sql_tables["product"]).where(
                sql_tables["product"].c.id == OLD_PRODUCT))).mappings().one()
            assert (product["sku"], product["name"], product["safety_stock"], product["lot_rule"],
                    product["lot_qty"]) == ("FG-DESK-140", "Old desk", 3, None, None)
            customer = (await conn.execute(select(sql_tables["customer"]))).mappings().one()
            assert (customer["id"], customer["name"], customer["code"]) == (OLD_CUSTOMER, "Walk-in", None)
            assert (await conn.execute(select(sql_tables["stock_move"].c.id))).scalars().all() == [OLD_MOVE]
            for table in MASTER_TABLES.values():
                assert (await conn.execute(select(table))).all() == []

        # the upgraded database takes an import: stored rows are found by their keys, not duplicated
        await run_import(db, ServerClock(), demo_files())
        async with db.read() as conn:
            products = sql_tables["product"]
            desk = (await conn.execute(select(products).where(products.c.sku == "FG-DESK-140"))).mappings().one()
            assert (desk["id"], desk["name"], desk["safety_stock"]) == (
                OLD_PRODUCT, "Office desk 140×70, oak décor / black frame", 10)
            wh = sql_tables["warehouse"]
            assert (await conn.execute(select(wh.c.id).where(wh.c.code == "WH1"))).scalars().all() == [OLD_WAREHOUSE]
    finally:
        await db.dispose()
