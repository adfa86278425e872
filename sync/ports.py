"""The edges the sync core talks through, as ``typing.Protocol`` s.

A replica never knows whether it speaks HTTP, an in-process test server or a flaky network
simulation: it calls a :class:`Transport`. Failures are one small tree, so callers can tell
"try again later, nothing is lost" from "the server refuses this batch"::

    TransportError      the request or its response was lost (no answer): retry later
    └── SeqGap          the server answered 409 ``gap``: the batch starts past its acked + 1
"""

from __future__ import annotations

from typing import Protocol

from sync.protocol import PullResponse, PushRequest, PushResponse

__all__ = ["SeqGap", "Transport", "TransportError"]


class TransportError(Exception):
    """No usable answer: the network failed or the response was lost.

    The request may or may not have been applied by the server. Pushes are idempotent by
    ``(site, seq)`` and pulls are read-only, so the caller simply retries later; nothing is lost.
    """


class SeqGap(TransportError):
    """The server refused a push batch (409 ``gap``): it starts past the server's acked + 1.

    A correct client never causes this (it resends from its first unacknowledged seq); it means
    the server lost acknowledged data or the device's outbox was damaged, so a person must look.
    """


class Transport(Protocol):
    """How a replica reaches the server. Synchronous: the app calls it from one worker thread."""

    def push(self, request: PushRequest) -> PushResponse:
        """Send a batch of changes; raise :class:`TransportError` when no answer came back."""
        ...

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        """Fetch changes after ``cursor`` (``None``: a first sync), at most about ``limit``."""
        ...
