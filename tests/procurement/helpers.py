"""Test-side helpers of the procurement tests over HTTP."""

from __future__ import annotations

from typing import Any

import httpx


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert r.status_code == status, r.text
    return r.json()
