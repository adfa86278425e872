"""Settings from the environment, read in one place, once."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    )
