"""Who is calling: an enrolled device, or the bootstrap credential."""

from __future__ import annotations

from dataclasses import dataclass

from shared.registry import Role

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role
    device_id: str | None = None  # None for the bootstrap credential
    warehouse_id: str | None = None

    @property
    def is_backoffice(self) -> bool:
        return self.role is Role.BACKOFFICE
