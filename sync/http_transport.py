"""The HTTP edge of the replica: PROTOCOL.md over ``urllib`` (stdlib, so the app carries no
HTTP library), MessagePack by default. Network failures and 5xx answers become
:class:`~sync.ports.TransportError` (retry later, nothing lost); a 409 ``gap`` becomes
:class:`~sync.ports.SeqGap`; other 4xx answers raise :class:`ServerRefused` with the server's
error code and detail, so the app can show them.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TypeVar

from sync.codec import MSGPACK, DecodeError, decode, encode
from sync.ports import SeqGap, TransportError
from sync.protocol import ErrorBody, PullResponse, PushRequest, PushResponse

__all__ = ["HttpTransport", "ServerRefused"]

T = TypeVar("T")


class ServerRefused(Exception):
    """The server answered 4xx: the request itself is wrong (bad token, role, body)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class HttpTransport:
    def __init__(self, base_url: str, token: str, *, media_type: str = MSGPACK, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.media_type = media_type
        self.timeout = timeout

    def _call(self, method: str, path: str, type_: type[T], body: Any = None) -> T:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": self.media_type}
        data = None
        if body is not None:
            data = encode(body, self.media_type)
            headers["Content-Type"] = self.media_type
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return decode(resp.read(), type_, self.media_type)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            if exc.code >= 500:
                raise TransportError(f"server error {exc.code}; will retry") from None
            try:
                err = decode(raw, ErrorBody, exc.headers.get("content-type", self.media_type).split(";")[0])
            except DecodeError:
                err = ErrorBody(error="http_error", detail=raw[:200].decode(errors="replace"))
            if exc.code == 409 and err.error == "gap":
                raise SeqGap(err.detail) from None
            raise ServerRefused(exc.code, err.error, err.detail) from None
        except (urllib.error.URLError, OSError, DecodeError) as exc:
            raise TransportError(f"no usable answer from {self.base_url}: {exc}") from None

    def push(self, request: PushRequest) -> PushResponse:
        return self._call("POST", "/api/v1/sync/push", PushResponse, request)

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        query = {"limit": str(limit)}
        if cursor:
            query["cursor"] = cursor
        return self._call("GET", "/api/v1/sync/pull?" + urllib.parse.urlencode(query), PullResponse)
