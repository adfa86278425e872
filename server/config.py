"""Settings from the environment, read in one place, once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

__all__ = ["Settings", "load_settings"]

DEFAULT_SQLITE = "sqlite+aiosqlite:///var/fieldsync.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_SQLITE
    max_clock_skew_ms: int = 60_000
    bootstrap_token: str | None = None
    enrolment_code_ttl_s: int = 7 * 24 * 3600
    max_body_bytes: int = 8 * 1024 * 1024
    # failure tests only: hold each push transaction open this long before it commits, so a
    # test can kill the process while a batch is written but not committed
    fault_push_delay_ms: int = 0
    # goods receipt: a purchase order line may receive this much (percent of its quantity) over
    receipt_tolerance_pct: Decimal = Decimal(5)
    # PostgreSQL: sync transactions (push, pull, token look-ups) one process runs at once
    pg_concurrency: int = 4

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _positive(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise SystemExit(f"{name} must be 1 or more, got {value}")
    return value


def _percent(env: dict[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SystemExit(f"{name} must be a percentage such as 5 or 2.5, got {raw!r}") from None
    if not value.is_finite() or not 0 <= value <= 1000:
        raise SystemExit(f"{name} must be a percentage from 0 to 1000, got {raw!r}")
    return value


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    url = env.get("FIELDSYNC_DATABASE_URL") or DEFAULT_SQLITE
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Settings(
        database_url=url,
        max_clock_skew_ms=_int(env, "FIELDSYNC_MAX_CLOCK_SKEW_MS", 60_000),
        bootstrap_token=env.get("FIELDSYNC_BOOTSTRAP_TOKEN") or None,
        enrolment_code_ttl_s=_int(env, "FIELDSYNC_ENROLMENT_CODE_TTL_S", 7 * 24 * 3600),
        max_body_bytes=_int(env, "FIELDSYNC_MAX_BODY_BYTES", 8 * 1024 * 1024),
        fault_push_delay_ms=_int(env, "FIELDSYNC_FAULT_PUSH_DELAY_MS", 0),
        receipt_tolerance_pct=_percent(env, "FIELDSYNC_RECEIPT_TOLERANCE_PCT", Decimal(5)),
        pg_concurrency=_positive(env, "FIELDSYNC_PG_CONCURRENCY", 4),
    )
