"""The domain error tree. Services raise these; only ``server/errors.py`` knows HTTP.

    DomainError                 (code, detail)
    ├── InvalidInput            malformed or mistyped input: the caller must fix the request
    ├── NotAuthenticated        missing, wrong or revoked credential
    ├── Forbidden               the caller's role may not do this
    ├── NotFound                the thing named does not exist
    └── Conflict                the request contradicts stored state (a seq gap, a used code)
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
]


class DomainError(Exception):
    """A failure the caller can act on, with a stable machine code and a human sentence."""

    code: str = "error"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = "invalid_input"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"
