"""supplier quotas: a minimum (and optional maximum) share of an item's planned volume for a
supplier, set by the back office and honoured by the supplier allocation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.db.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supplier_quota',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('product_id', sa.String(length=36), nullable=False),
    sa.Column('supplier_id', sa.String(length=36), nullable=False),
    sa.Column('min_share', server.db.types.ExactDecimal(), nullable=False),
    sa.Column('max_share', server.db.types.ExactDecimal(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name='fk_supplier_quota_product_id'),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name='fk_supplier_quota_supplier_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('product_id', 'supplier_id', name='uq_supplier_quota_product_supplier')
    )


def downgrade() -> None:
    op.drop_table('supplier_quota')
