"""planning: kept MRP runs, production order pegs to sales orders, number sequences

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mrp_run',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('today', sa.Date(), nullable=False),
    sa.Column('input_version', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.Text(), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=True),
    sa.Column('planned_orders', sa.BigInteger(), nullable=False),
    sa.Column('exceptions', sa.BigInteger(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mrp_run', schema=None) as batch_op:
        batch_op.create_index('ix_mrp_run_created_at', ['created_at'], unique=False)

    op.create_table('planning_sequence',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('production_order_peg',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('production_order_id', sa.String(length=36), nullable=False),
    sa.Column('sales_order_id', sa.String(length=36), nullable=False),
    sa.Column('sales_order_number', sa.Text(), nullable=False),
    sa.Column('qty', server.db.types.ExactDecimal(), nullable=False),
    sa.ForeignKeyConstraint(['production_order_id'], ['production_order.id'], name='fk_production_order_peg_production_order_id'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('production_order_peg', schema=None) as batch_op:
        batch_op.create_index('ix_production_order_peg_production_order_id', ['production_order_id'], unique=False)
        batch_op.create_index('ix_production_order_peg_sales_order_id', ['sales_order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('production_order_peg', schema=None) as batch_op:
        batch_op.drop_index('ix_production_order_peg_sales_order_id')
        batch_op.drop_index('ix_production_order_peg_production_order_id')

    op.drop_table('production_order_peg')
    op.drop_table('planning_sequence')
    with op.batch_alter_table('mrp_run', schema=None) as batch_op:
        batch_op.drop_index('ix_mrp_run_created_at')

    op.drop_table('mrp_run')
