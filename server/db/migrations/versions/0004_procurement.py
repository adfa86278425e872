"""procurement: requisitions, purchase order terms, goods receipts (synced ledger), and the
supplier name and quantity received on purchase receipts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('goods_receipt',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('receipt_id', sa.String(length=36), nullable=True),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('warehouse_id', sa.String(length=36), nullable=True),
    sa.Column('qty_accepted', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('qty_rejected', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('ref', sa.Text(), nullable=True),
    sa.Column('_ts', sa.BigInteger(), nullable=False),
    sa.Column('_site', sa.String(length=36), nullable=False),
    sa.Column('_rev', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('goods_receipt', schema=None) as batch_op:
        batch_op.create_index('ix_goods_receipt__rev', ['_rev', 'id'], unique=False)
        batch_op.create_index('ix_goods_receipt_product_id', ['product_id'], unique=False)
        batch_op.create_index('ix_goods_receipt_warehouse_id', ['warehouse_id'], unique=False)

    op.create_table('requisition',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('supplier_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'approved')", name='ck_requisition_status'),
    sa.ForeignKeyConstraint(['run_id'], ['mrp_run.id'], name='fk_requisition_run_id'),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name='fk_requisition_supplier_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('requisition', schema=None) as batch_op:
        batch_op.create_index('ix_requisition_run_id', ['run_id'], unique=False)

    op.create_table('po_line_terms',
    sa.Column('po_line_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('unit_price', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('ordered_on', sa.Date(), nullable=False),
    sa.Column('requisition_id', sa.String(length=36), nullable=True),
    sa.CheckConstraint("kind IN ('buy', 'subcontract')", name='ck_po_line_terms_kind'),
    sa.ForeignKeyConstraint(['po_line_id'], ['purchase_order_line.id'], name='fk_po_line_terms_po_line_id'),
    sa.ForeignKeyConstraint(['requisition_id'], ['requisition.id'], name='fk_po_line_terms_requisition_id'),
    sa.PrimaryKeyConstraint('po_line_id')
    )
    op.create_table('requisition_line',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('requisition_id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('warehouse_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('unit_price', server.db.types.ExactDecimal(), nullable=True),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('buy', 'subcontract')", name='ck_requisition_line_kind'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_requisition_line_product_id'),
    sa.ForeignKeyConstraint(['requisition_id'], ['requisition.id'], name='fk_requisition_line_requisition_id'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.id'], name='fk_requisition_line_warehouse_id'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('requisition_line', schema=None) as batch_op:
        batch_op.create_index('ix_requisition_line_requisition_id', ['requisition_id'], unique=False)

    with op.batch_alter_table('purchase_receipt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supplier_name', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('supplier_name__v', sa.LargeBinary(length=25), nullable=True))
        batch_op.add_column(sa.Column('qty_received', server.db.types.ExactDecimal(), nullable=True))
        batch_op.add_column(sa.Column('qty_received__v', sa.LargeBinary(length=25), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('purchase_receipt', schema=None) as batch_op:
        batch_op.drop_column('qty_received__v')
        batch_op.drop_column('qty_received')
        batch_op.drop_column('supplier_name__v')
        batch_op.drop_column('supplier_name')

    with op.batch_alter_table('requisition_line', schema=None) as batch_op:
        batch_op.drop_index('ix_requisition_line_requisition_id')

    op.drop_table('requisition_line')
    op.drop_table('po_line_terms')
    with op.batch_alter_table('requisition', schema=None) as batch_op:
        batch_op.drop_index('ix_requisition_run_id')

    op.drop_table('requisition')
    with op.batch_alter_table('goods_receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_goods_receipt_warehouse_id')
        batch_op.drop_index('ix_goods_receipt_product_id')
        batch_op.drop_index('ix_goods_receipt__rev')

    op.drop_table('goods_receipt')
