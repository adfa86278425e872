"""The wire messages of PROTOCOL.md (version 1) as msgspec Structs.

Constraints live in the types, so decoding is validation: a body that decodes is well-formed.
New fields always get defaults, so older and newer peers keep reading each other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

__all__ = [
    "MAX_CHANGES_PER_PUSH",
    "PROTOCOL_VERSION",
    "Change",
    "DeviceCreate",
    "DeviceCreated",
    "Enrol",
    "Enrolled",
    "ErrorBody",
    "Health",
    "PullResponse",
    "PulledChange",
    "PushRequest",
    "PushResponse",
    "Rejection",
]

PROTOCOL_VERSION = 1
MAX_CHANGES_PER_PUSH = 5000
MAX_PULL_LIMIT = 5000

Ts = Annotated[int, Meta(ge=0, le=(1 << 63) - 1)]
Seq = Annotated[int, Meta(ge=1, le=(1 << 62))]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
Pk = Annotated[str, Meta(min_length=1, max_length=64)]
Vals = Annotated[dict[str, Any], Meta(max_length=64)]

RejectReason = Literal[
    "forbidden", "unknown_table", "unknown_column", "invalid_value", "immutable", "clock_skew"
]
RoleName = Literal["sales", "warehouse", "backoffice"]


class Change(Struct, forbid_unknown_fields=True):
    seq: Seq
    table: Name
    pk: Pk
    ts: Ts
    vals: Vals


class PushRequest(Struct, forbid_unknown_fields=True):
    site: Annotated[str, Meta(min_length=1, max_length=64)]
    changes: Annotated[list[Change], Meta(max_length=MAX_CHANGES_PER_PUSH)]


class Rejection(Struct):
    seq: int
    reason: RejectReason
    detail: str


class PushResponse(Struct):
    acked: int
    server_ts: int
    rejected: list[Rejection] = msgspec.field(default_factory=list)


class PulledChange(Struct):
    table: str
    pk: str
    ts: int
    site: str
    vals: dict[str, Any]


class PullResponse(Struct):
    changes: list[PulledChange]
    cursor: str
    more: bool
    server_ts: int


class DeviceCreate(Struct, forbid_unknown_fields=True):
    user: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
    role: RoleName
    warehouse_id: str | None = None


class DeviceCreated(Struct):
    device_id: str
    enrolment_code: str


class Enrol(Struct, forbid_unknown_fields=True):
    enrolment_code: Annotated[str, Meta(min_length=1, max_length=128)]


class Enrolled(Struct):
    device_id: str
    token: str
    server_ts: int
    role: str = ""
    user: str = ""
    warehouse_id: str | None = None


class ErrorBody(Struct):
    error: str
    detail: str


class Health(Struct):
    status: str
    protocol_version: int = PROTOCOL_VERSION
