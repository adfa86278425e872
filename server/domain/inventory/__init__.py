"""Inventory (SCM): stock on hand from the ``stock_move`` ledger, and the availability figures
(on hand, available, buildable) the server keeps in the synced ``stock_level`` table.

``onhand.py`` is pure (the count rule over plain move records) and is all this package imports
up front, so planning code can use it without loading the services; ``availability.py`` loads
from the database and writes ``stock_level`` as the server (``refresh_availability``).
See docs/kitting.md.
"""

from server.domain.inventory.onhand import Move, level, on_hand

__all__ = ["Move", "level", "on_hand"]
