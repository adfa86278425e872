"""HTTP edges of the wire protocol: decode a body by Content-Type, encode by Accept, and
describe both in the OpenAPI document (handlers read raw bodies so that JSON and MessagePack
share one decoder and one error shape)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.openapi.spec import Operation

from sync.codec import JSON, MSGPACK, decode, encode, media_type_for
from sync.protocol import ErrorBody

__all__ = ["documented", "read_body", "respond"]

T = TypeVar("T")


async def read_body(request: Request[Any, Any, Any], type_: type[T]) -> T:
    body = await request.body()
    return decode(body, type_, media_type_for(request.headers.get("content-type")))


def respond(request: Request[Any, Any, Any], obj: Any, status: int = 200) -> Response[bytes]:
    media = media_type_for(request.headers.get("accept"))
    return Response(encode(obj, media), status_code=status, media_type=media)


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _schema(type_: Any) -> dict[str, Any]:
    raw = msgspec.json.schema(type_)
    return _inline(raw, raw.get("$defs", {}))  # type: ignore[no-any-return]


def _content(type_: Any) -> dict[str, Any]:
    s = _schema(type_)
    return {JSON: {"schema": s}, MSGPACK: {"schema": s}}


def documented(body: Any = None, response: Any = None, status: int = 200,
               errors: tuple[int, ...] = (400, 401, 403)) -> type[Operation]:
    """An Operation class whose OpenAPI entry carries the msgspec schemas of the raw body."""

    class _Documented(Operation):
        def to_schema(self) -> dict[str, Any]:
            out = super().to_schema()
            if body is not None:
                out["requestBody"] = {"required": True, "content": _content(body)}
            responses = out.setdefault("responses", {})
            for code in [c for c in list(responses) if c.startswith("2")]:
                del responses[code]
            responses[str(status)] = ({"description": "OK", "content": _content(response)}
                                      if response is not None else {"description": "OK"})
            for code in errors:
                responses[str(code)] = {"description": "error", "content": _content(ErrorBody)}
            return out

    return _Documented
