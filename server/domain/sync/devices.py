"""Devices: creation with a one-time enrolment code, enrolment for a token, revocation, and
authentication. Codes and tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import uuid_utils
from sqlalchemy import Connection, Row, RowMapping, bindparam, insert, select, update

from server.config import Settings
from server.db.engine import Database
from server.db.schema import device, sql_tables
from server.domain.sync.clock import ServerClock
from server.domain.sync.principal import Principal
from shared.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from shared.registry import Role
from sync.protocol import DeviceCreate, DeviceCreated, Enrolled

__all__ = ["authenticate", "check_not_revoked", "create_device", "enrol", "enrolment_role", "list_devices", "looks_like_code", "revoke"]

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
BOOTSTRAP = Principal(user="bootstrap", role=Role.BACKOFFICE)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _code_chars(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _normalise_code(code: str) -> str:
    raw = _code_chars(code)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else code


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_device(db: Database, settings: Settings, principal: Principal, req: DeviceCreate) -> DeviceCreated:
    if not principal.is_backoffice:
        raise Forbidden("only a back-office device may create devices")
    role = Role(req.role)
    warehouse_id = req.warehouse_id
    if warehouse_id is not None:
        try:
            warehouse_id = str(uuid.UUID(warehouse_id))
        except ValueError:
            raise InvalidInput(f"warehouse_id must be a UUID, got {warehouse_id[:64]!r}",
                               code="invalid_value") from None
    if role is Role.WAREHOUSE and warehouse_id is None:
        raise InvalidInput("a warehouse device needs a warehouse_id", code="invalid_value")
    code = _new_code()
    device_id = str(uuid_utils.uuid7())
    async with db.write() as conn:
        if warehouse_id is not None:
            wh = sql_tables["warehouse"]
            if (await conn.execute(select(wh.c.id).where(wh.c.id == warehouse_id))).first() is None:
                raise InvalidInput(f"there is no warehouse {warehouse_id}", code="unknown_warehouse")
        await conn.execute(insert(device).values(
            id=device_id, user=req.user, role=role.value, warehouse_id=warehouse_id,
            code_hash=_hash(code), code_expires_at=_now() + dt.timedelta(seconds=settings.enrolment_code_ttl_s),
            acked_seq=0, created_at=_now()))
    return DeviceCreated(device_id=device_id, enrolment_code=code)


def looks_like_code(text: str) -> bool:
    """Whether ``text`` has the shape of an enrolment code (12 letters and digits, dashes optional)."""
    return len(_code_chars(text)) == 12 and len(text) <= 16


async def enrolment_role(db: Database, code: str) -> str | None:
    """The role of the device an unspent, unexpired enrolment code belongs to, without spending
    it; None for a code that would not enrol. Lets a caller refuse a code of the wrong role
    while leaving it usable where it belongs."""
    async with db.read() as conn:
        row = (await conn.execute(select(device.c.role, device.c.code_expires_at, device.c.revoked_at)
                                  .where(device.c.code_hash == _hash(_normalise_code(code))))).mappings().first()
    if row is None or _code_refused(row) is not None:
        return None
    return str(row["role"])


def _code_refused(row: RowMapping | None) -> NotAuthenticated | None:
    """Why the device row found by an enrolment code may not enrol with it, or None if it may."""
    if row is None:
        return NotAuthenticated("this enrolment code is unknown or was already used; ask the back office "
                                "for a new one", code="bad_enrolment_code")
    if row["revoked_at"] is not None:
        return NotAuthenticated("this device was revoked", code="revoked")
    expires = row["code_expires_at"]
    if expires is not None and expires < _now():
        return NotAuthenticated("this enrolment code has expired; ask the back office for a new one",
                                code="bad_enrolment_code")
    return None


async def enrol(db: Database, clock: ServerClock, code: str) -> Enrolled:
    token = secrets.token_urlsafe(32)
    code_hash = _hash(_normalise_code(code))
    async with db.write() as conn:
        row = (await conn.execute(select(device).where(device.c.code_hash == code_hash))).mappings().first()
        refused = _code_refused(row)
        if refused is not None:
            raise refused
        assert row is not None
        # the code is spent in the same statement that checks it, so two racing enrolments cannot both win
        spent = await conn.execute(update(device).where(device.c.id == row["id"], device.c.code_hash == code_hash)
                                   .values(code_hash=None, token_hash=_hash(token), enrolled_at=_now()))
        if spent.rowcount != 1:
            raise Conflict("this enrolment code was used at the same moment by another device",
                           code="bad_enrolment_code")
    return Enrolled(device_id=row["id"], token=token, server_ts=clock.server_ts(), role=row["role"],
                    user=row["user"], warehouse_id=row["warehouse_id"])


async def revoke(db: Database, principal: Principal, device_id: str) -> None:
    if not principal.is_backoffice:
        raise Forbidden("only a back-office device may revoke devices")
    try:
        device_id = str(uuid.UUID(device_id))
    except ValueError:
        raise NotFound(f"there is no device {device_id[:64]!r}", code="unknown_device") from None
    async with db.write() as conn:
        done = await conn.execute(update(device).where(device.c.id == device_id[:64], device.c.revoked_at.is_(None))
                                  .values(revoked_at=_now(), token_hash=None, code_hash=None))
        if done.rowcount == 0:
            exists = (await conn.execute(select(device.c.id).where(device.c.id == device_id[:64]))).first()
            if exists is None:
                raise NotFound(f"there is no device {device_id[:64]}", code="unknown_device")


async def list_devices(db: Database, principal: Principal) -> list[dict[str, Any]]:
    if not principal.is_backoffice:
        raise Forbidden("only a back-office device may list devices")
    async with db.read() as conn:
        rows = (await conn.execute(select(
            device.c.id, device.c.user, device.c.role, device.c.warehouse_id, device.c.acked_seq,
            device.c.created_at, device.c.enrolled_at, device.c.revoked_at, device.c.last_seen_at,
        ).order_by(device.c.created_at))).mappings().all()
    return [dict(r) for r in rows]


REVOKED = "this token is unknown or its device was revoked"
_KNOWN_TOKENS = 50_000  # devices whose principal a sync request may take from memory


@dataclass
class Authenticator:
    """Turns an Authorization header into a Principal (or refuses it)."""

    db: Database
    settings: Settings
    # token hash -> the device it named when last looked up (a device's user, role and
    # warehouse never change; only revocation does, which ``sync_device`` answers for)
    _known: dict[str, Principal] = field(default_factory=dict, repr=False)

    async def __call__(self, header: str | None) -> Principal:
        """The principal, its device looked up now: a revoked device is refused here."""
        token = self._token(header)
        boot = self.settings.bootstrap_token
        if boot and hmac.compare_digest(token.encode(), boot.encode()):
            return BOOTSTRAP
        return await self._look_up(_hash(token))

    async def for_sync(self, header: str | None) -> Principal:
        """The principal for a push or a pull, which check in their own transaction that the
        device is not revoked (``check_not_revoked``): a token seen before is answered from
        memory, saving the request a transaction of its own."""
        token = self._token(header)
        boot = self.settings.bootstrap_token
        if boot and hmac.compare_digest(token.encode(), boot.encode()):
            return BOOTSTRAP
        token_hash = _hash(token)
        known = self._known.get(token_hash)
        return known if known is not None else await self._look_up(token_hash)

    @staticmethod
    def _token(header: str | None) -> str:
        if not header or not header.lower().startswith("bearer "):
            raise NotAuthenticated("send 'Authorization: Bearer <token>'", code="not_authenticated")
        token = header[7:].strip()
        if not token or len(token) > 256:
            raise NotAuthenticated("the bearer token is malformed", code="not_authenticated")
        return token

    async def _look_up(self, token_hash: str) -> Principal:
        row = await self.db.run_read(_device_of_token, token_hash)
        if row is None or row.revoked_at is not None:
            self._known.pop(token_hash, None)
            raise NotAuthenticated(REVOKED, code="not_authenticated")
        principal = Principal(user=row.user, role=Role(row.role), device_id=row.id, warehouse_id=row.warehouse_id)
        if len(self._known) >= _KNOWN_TOKENS:
            self._known.pop(next(iter(self._known)))
        self._known[token_hash] = principal
        return principal


def check_not_revoked(revoked_at: Any) -> None:
    """Inside a push's or pull's transaction: refuse a device revoked since it was looked up."""
    if revoked_at is not None:
        raise NotAuthenticated(REVOKED, code="not_authenticated")


_TOKEN_LOOKUP = select(device.c.id, device.c.user, device.c.role, device.c.warehouse_id,
                       device.c.revoked_at).where(device.c.token_hash == bindparam("token_hash"))


def _device_of_token(conn: Connection, token_hash: str) -> Row[Any] | None:
    return conn.execute(_TOKEN_LOOKUP, {"token_hash": token_hash}).first()


authenticate = Authenticator
