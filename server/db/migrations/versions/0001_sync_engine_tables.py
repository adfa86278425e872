"""sync engine tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('phone__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('address__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('owner', sa.Text(), nullable=True),
    sa.Column('owner__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_customer_owner', ['owner'], unique=False)

    op.create_table('delivery_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('order_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('due_date__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('status__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delivery_task', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_task__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_delivery_task_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_delivery_task_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('product',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sku', sa.Text(), nullable=True),
    sa.Column('sku__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('barcode', sa.Text(), nullable=True),
    sa.Column('barcode__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('uom', sa.Text(), nullable=True),
    sa.Column('uom__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('kind__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('lead_time_days', sa.BigInteger(), nullable=True),
    sa.Column('lead_time_days__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('safety_stock', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('safety_stock__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('standard_cost', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('standard_cost__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index('ix_product__rev', ['_rev', 'id'], unique=False)

    op.create_table('product_price',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('product_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('unit_price', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('unit_price__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('currency__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_from__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('product_price', schema=None) as batch_op:
        batch_op.create_index('ix_product_price__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_product_price_product_id', ['product_id'], unique=False)

    op.create_table('purchase_receipt',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('po_number__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('product_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('qty_expected', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('qty_expected__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('due_date__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('status__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('purchase_receipt', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_receipt__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_purchase_receipt_product_id', ['product_id'], unique=False)
        batch_op.create_index('ix_purchase_receipt_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('sales_order',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Text(), nullable=True),
    sa.Column('number__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('customer_id', sa.String(length=36), nullable=True),
    sa.Column('customer_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('due_date__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('status__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('owner', sa.Text(), nullable=True),
    sa.Column('owner__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sales_order', schema=None) as batch_op:
        batch_op.create_index('ix_sales_order__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_sales_order_owner', ['owner'], unique=False)
        batch_op.create_index('ix_sales_order_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('sales_order_line',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('order_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('product_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('qty__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('unit_price', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('unit_price__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sales_order_line', schema=None) as batch_op:
        batch_op.create_index('ix_sales_order_line__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_sales_order_line_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_sales_order_line_product_id', ['product_id'], unique=False)

    op.create_table('stock_level',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('product_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('on_hand', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('on_hand__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('available', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('available__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('buildable', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('buildable__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.create_index('ix_stock_level__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_stock_level_product_id', ['product_id'], unique=False)
        batch_op.create_index('ix_stock_level_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('stock_move',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('ref', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('_ts', sa.BigInteger(), nullable=False),
    sa.Column('_site', sa.String(length=36), nullable=False),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('stock_move', schema=None) as batch_op:
        batch_op.create_index('ix_stock_move__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_stock_move_product_id', ['product_id'], unique=False)
        batch_op.create_index('ix_stock_move_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('sync_conflict',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=36), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('pk', sa.String(length=64), nullable=False),
    sa.Column('column_name', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('attempted', sa.Text(), nullable=True),
    sa.Column('current', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_conflict_site'), ['site'], unique=False)

    op.create_table('sync_device',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('acked_seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('sync_rejection',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=36), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('pk', sa.String(length=64), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('vals', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_rejection_site'), ['site'], unique=False)

    op.create_table('sync_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rev', sa.BigInteger(), nullable=False),
    sa.Column('server_ts', sa.BigInteger(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('warehouse',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.Text(), nullable=True),
    sa.Column('code__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_deleted', sa.Boolean(), nullable=True),
    sa.Column('_deleted__v', sa.LargeBinary(length=25), nullable=True),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.create_index('ix_warehouse__rev', ['_rev', 'id'], unique=False)
    state = sa.table(
        "sync_state",
        sa.column("id", sa.Integer), sa.column("rev", sa.BigInteger),
        sa.column("server_ts", sa.BigInteger), sa.column("secret", sa.String),
    )
    op.bulk_insert(state, [{"id": 1, "rev": 0, "server_ts": 0, "secret": secrets.token_hex(32)}])


def downgrade() -> None:
    with op.batch_alter_table('warehouse', schema=None) as batch_op:
        batch_op.drop_index('ix_warehouse__rev')

    op.drop_table('warehouse')
    op.drop_table('sync_state')
    with op.batch_alter_table('sync_rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_rejection_site'))

    op.drop_table('sync_rejection')
    op.drop_table('sync_device')
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflict_site'))

    op.drop_table('sync_conflict')
    with op.batch_alter_table('stock_move', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_move_warehouse_id')
        batch_op.drop_index('ix_stock_move_product_id')
        batch_op.drop_index('ix_stock_move__rev')

    op.drop_table('stock_move')
    with op.batch_alter_table('stock_level', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_level_warehouse_id')
        batch_op.drop_index('ix_stock_level_product_id')
        batch_op.drop_index('ix_stock_level__rev')

    op.drop_table('stock_level')
    with op.batch_alter_table('sales_order_line', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_order_line_product_id')
        batch_op.drop_index('ix_sales_order_line_order_id')
        batch_op.drop_index('ix_sales_order_line__rev')

    op.drop_table('sales_order_line')
    with op.batch_alter_table('sales_order', schema=None) as batch_op:
        batch_op.drop_index('ix_sales_order_warehouse_id')
        batch_op.drop_index('ix_sales_order_owner')
        batch_op.drop_index('ix_sales_order__rev')

    op.drop_table('sales_order')
    with op.batch_alter_table('purchase_receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_receipt_warehouse_id')
        batch_op.drop_index('ix_purchase_receipt_product_id')
        batch_op.drop_index('ix_purchase_receipt__rev')

    op.drop_table('purchase_receipt')
    with op.batch_alter_table('product_price', schema=None) as batch_op:
        batch_op.drop_index('ix_product_price_product_id')
        batch_op.drop_index('ix_product_price__rev')

    op.drop_table('product_price')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index('ix_product__rev')

    op.drop_table('product')
    with op.batch_alter_table('delivery_task', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_task_warehouse_id')
        batch_op.drop_index('ix_delivery_task_order_id')
        batch_op.drop_index('ix_delivery_task__rev')

    op.drop_table('delivery_task')
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_owner')
        batch_op.drop_index('ix_customer__rev')

    op.drop_table('customer')
