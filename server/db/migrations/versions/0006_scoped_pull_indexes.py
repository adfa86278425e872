"""pull indexes for scoped tables: (scope column, _rev, id) instead of the scope column alone, so
a device's next page of its own rows is read straight off one index in log order

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# (table, scope column): the columns a role's read scope filters on
_SCOPED = [
    ('stock_level', 'warehouse_id'),
    ('customer', 'owner'),
    ('sales_order', 'owner'),
    ('sales_order_line', 'order_id'),
    ('stock_move', 'warehouse_id'),
    ('delivery_task', 'warehouse_id'),
    ('purchase_receipt', 'warehouse_id'),
    ('goods_receipt', 'warehouse_id'),
]


def upgrade() -> None:
    for table, column in _SCOPED:
        op.drop_index(f'ix_{table}_{column}', table_name=table)
        op.create_index(f'ix_{table}_{column}_rev', table, [column, '_rev', 'id'], unique=False)


def downgrade() -> None:
    for table, column in _SCOPED:
        op.drop_index(f'ix_{table}_{column}_rev', table_name=table)
        op.create_index(f'ix_{table}_{column}', table, [column], unique=False)
