"""master data: BOMs, suppliers, price agreements, forecasts, open orders; lot rules, customer codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supplier',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('capacity_per_week', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('blocked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code', name='uq_supplier_code')
    )
    op.create_table('bom_line',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=False),
    sa.Column('component_id', sa.String(length=36), nullable=False),
    sa.Column('qty_per', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('scrap_pct', server.db.types.ExactDecimal(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['product.id'], name='fk_bom_line_component_id'),
    sa.ForeignKeyConstraint(['parent_id'], ['product.id'], name='fk_bom_line_parent_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('parent_id', 'component_id', name='uq_bom_line_parent_component')
    )
    with op.batch_alter_table('bom_line', schema=None) as batch_op:
        batch_op.create_index('ix_bom_line_component_id', ['component_id'], unique=False)

    op.create_table('forecast',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('warehouse_id', sa.String(length=36), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_forecast_product_id'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name='fk_forecast_warehouse_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('product_id', 'warehouse_id', 'date', name='uq_forecast_key')
    )
    op.create_table('price_agreement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('supplier_id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('min_qty', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('unit_price', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('priority', sa.BigInteger(), nullable=False),
    sa.Column('lead_time_days', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("kind IN ('purchase', 'subcontract')", name='ck_price_agreement_kind'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_price_agreement_product_id'),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name='fk_price_agreement_supplier_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('supplier_id', 'product_id', 'kind', 'min_qty', 'valid_from', name='uq_price_agreement_key')
    )
    with op.batch_alter_table('price_agreement', schema=None) as batch_op:
        batch_op.create_index('ix_price_agreement_product_id', ['product_id'], unique=False)

    op.create_table('production_order',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Text(), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('warehouse_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'released', 'done', 'cancelled')", name='ck_production_order_status'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_production_order_product_id'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name='fk_production_order_warehouse_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number', name='uq_production_order_number')
    )
    with op.batch_alter_table('production_order', schema=None) as batch_op:
        batch_op.create_index('ix_production_order_product_id', ['product_id'], unique=False)

    op.create_table('purchase_order_line',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Text(), nullable=False),
    sa.Column('supplier_id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('warehouse_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('qty_received', server.db.types.ExactDecimal(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'closed')", name='ck_purchase_order_line_status'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_purchase_order_line_product_id'),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name='fk_purchase_order_line_supplier_id'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name='fk_purchase_order_line_warehouse_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number', 'product_id', name='uq_purchase_order_line_key')
    )
    with op.batch_alter_table('purchase_order_line', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_line_product_id', ['product_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('code__v', sa.LargeBinary(length=25), nullable=True))

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lot_rule', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('lot_rule__v', sa.LargeBinary(length=25), nullable=True))
        batch_op.add_column(sa.Column('lot_qty', server.db.types.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column('lot_qty__v', sa.LargeBinary(length=25), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('lot_qty__v')
        batch_op.drop_column('lot_qty')
        batch_op.drop_column('lot_rule__v')
        batch_op.drop_column('lot_rule')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('code__v')
        batch_op.drop_column('code')

    with op.batch_alter_table('purchase_order_line', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_line_product_id')

    op.drop_table('purchase_order_line')
    with op.batch_alter_table('production_order', schema=None) as batch_op:
        batch_op.drop_index('ix_production_order_product_id')

    op.drop_table('production_order')
    with op.batch_alter_table('price_agreement', schema=None) as batch_op:
        batch_op.drop_index('ix_price_agreement_product_id')

    op.drop_table('price_agreement')
    op.drop_table('forecast')
    with op.batch_alter_table('bom_line', schema=None) as batch_op:
        batch_op.drop_index('ix_bom_line_component_id')

    op.drop_table('bom_line')
    op.drop_table('supplier')
