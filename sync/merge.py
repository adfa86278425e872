"""Who wins: the merge rules as small pure functions, apart from any storage.

A cell's *version* orders every write to it. For an lww register it is ``(ts, site)``; for a
status column it is ``(rank, ts, site)``, so the furthest state wins and equal states fall back to
last-writer-wins. Versions are compared as tuples in Python and, on the server, as byte strings
(:func:`version_bytes`) so that SQL can merge a whole batch in one statement. Both orders agree.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

__all__ = ["SERVER_SITE", "Version", "site_bytes", "version", "version_bytes", "wins"]

SERVER_SITE = "server"
_SERVER_SITE_BYTES = b"\xff" * 16

Version = tuple[int, int, str]  # (rank, ts, site)


def version(ts: int, site: str, rank: int = 0) -> Version:
    return (rank, ts, site)


def wins(new: Version, old: Version | None) -> bool:
    """Whether a write with version ``new`` replaces the cell holding ``old``."""
    return old is None or new > old


@lru_cache(maxsize=4096)
def site_bytes(site: str) -> bytes:
    """16 bytes that sort as the site's text does: a UUID's bytes, or all-ones for the server
    (``"server"`` sorts after every hex UUID)."""
    if site == SERVER_SITE:
        return _SERVER_SITE_BYTES
    return uuid.UUID(site).bytes


def site_from_bytes(raw: bytes) -> str:
    if raw == _SERVER_SITE_BYTES:
        return SERVER_SITE
    return str(uuid.UUID(bytes=raw))


def version_bytes(ts: int, site: str, rank: int = 0) -> bytes:
    """The version as a byte string whose byte order is the version order (rank 0..255)."""
    return bytes((rank,)) + ts.to_bytes(8, "big") + site_bytes(site)


def version_from_bytes(raw: bytes) -> Version:
    return (raw[0], int.from_bytes(raw[1:9], "big"), site_from_bytes(raw[9:25]))
