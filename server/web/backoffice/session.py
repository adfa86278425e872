"""The back office's session: a token pasted once becomes a signed cookie, and every request
turns that cookie back into a Principal.

The cookie holds the SHA-256 of the token (what the device table stores, never the token itself)
and when it was issued, signed with HMAC-SHA256 under a key derived from the server's secret in
``sync_state`` (shared by every process). Each request looks the hash up again, so revoking the
device ends its back-office sessions at once. Pure signing here; the look-up is one SELECT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlsplit

from sqlalchemy import select

from server.config import Settings
from server.db.engine import Database
from server.db.schema import device
from server.domain.sync.devices import BOOTSTRAP
from server.domain.sync.principal import Principal
from shared.registry import Role

__all__ = ["COOKIE", "MAX_AGE_S", "principal_for", "same_origin", "sign", "token_hash", "verify"]

COOKIE = "fs_session"
MAX_AGE_S = 12 * 3600  # a working day; then the token is pasted again


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"fieldsync back-office session v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, hashed_token: str, now_s: int) -> str:
    """The cookie value for a token's hash issued at ``now_s`` (seconds since the epoch)."""
    body = _b64(json.dumps({"h": hashed_token, "t": now_s}, separators=(",", ":")).encode())
    mac = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def verify(secret: str, value: str | None, now_s: int) -> str | None:
    """The token hash in a cookie that is ours, intact and not older than MAX_AGE_S; else None."""
    if not value or len(value) > 512 or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    want = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, want):
        return None
    try:
        data = json.loads(_unb64(body))
        hashed, issued = str(data["h"]), int(data["t"])
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now_s - issued <= MAX_AGE_S:
        return None
    return hashed


async def principal_for(db: Database, settings: Settings, hashed_token: str) -> Principal | None:
    """Who holds the token with this hash now: the bootstrap credential, a live back-office
    device, or nobody (unknown, revoked, or no longer a back-office role)."""
    boot = settings.bootstrap_token
    if boot and hmac.compare_digest(token_hash(boot), hashed_token):
        return BOOTSTRAP
    async with db.read() as conn:
        row = (await conn.execute(select(device.c.id, device.c.user, device.c.role, device.c.warehouse_id,
                                         device.c.revoked_at)
                                  .where(device.c.token_hash == hashed_token))).mappings().first()
    if row is None or row["revoked_at"] is not None or row["role"] != Role.BACKOFFICE.value:
        return None
    return Principal(user=row["user"], role=Role(row["role"]), device_id=row["id"],
                     warehouse_id=row["warehouse_id"])


def same_origin(origin: str | None, host: str | None, htmx: bool) -> bool:
    """CSRF check of a POST (beside SameSite=Strict): the Origin header, when the browser sends
    one, must name this host; without it only htmx's own requests (a header a cross-site form
    cannot set) are taken."""
    if origin is None:
        return htmx
    if origin == "null" or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()
