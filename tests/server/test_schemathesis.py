"""Property-based fuzzing of every operation in the served OpenAPI document, over real HTTP, on
SQLite and PostgreSQL: schemathesis generates valid and invalid requests (JSON and MessagePack
bodies, query and path parameters) from ``/schema/openapi.json``, sends them with a real
back-office device token, and no answer may be a server error; answers must match what the
document declares, invalid requests must be refused, and every refusal carries the error body
of PROTOCOL.md. Bounded examples keep the file well under a minute.

Schemathesis' own pytest plugin (``schema.parametrize()``) does not run on pytest 9 (it writes
``Function._nodeid``, which pytest 9 no longer has), so each operation's Hypothesis strategy is
driven directly, one subtest per operation and generation mode.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from shared.registry import TABLES, Kind
from shared.values import ColType
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, LiveServer

MSGPACK = "application/msgpack"
LWW_TABLES = [t for t in TABLES if t.kind is Kind.LWW and any(c.type is ColType.TEXT and not c.choices
                                                                for c in t.columns)]
PUSH = "/api/v1/sync/push"
EXAMPLES_PER_OPERATION = 50
# no 5xx, statuses and media types the document declares, bodies that match its schemas, and
# invalid requests refused with a 4xx
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]
EXPECTED_OPERATIONS = {
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/devices"),
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/devices/enrol"),
    ("DELETE", "/api/v1/devices/{device_id}"),
    ("POST", PUSH),
    ("GET", "/api/v1/sync/pull"),
    ("GET", "/api/v1/sync/rejected"),
    ("GET", "/api/v1/sync/conflicts"),
    ("GET", "/api/v1/master/{kind}"),
    ("POST", "/api/v1/master/{kind}"),
    ("POST", "/api/v1/import"),
    ("GET", "/api/v1/planning/kitting"),
    ("GET", "/api/v1/planning/mrp/runs"),
    ("POST", "/api/v1/planning/mrp/runs"),
    ("GET", "/api/v1/planning/mrp/runs/{run_id}"),
    ("GET", "/api/v1/planning/mrp/runs/{run_id}/allocation"),
    ("GET", "/api/v1/planning/mrp/runs/{a}/compare/{b}"),
    ("POST", "/api/v1/planning/production-orders/from-sales-orders"),
    ("GET", "/api/v1/planning/current"),
    ("POST", "/api/v1/procurement/requisitions/from-run"),
    ("GET", "/api/v1/procurement/requisitions"),
    ("GET", "/api/v1/procurement/requisitions/{number}"),
    ("PATCH", "/api/v1/procurement/requisitions/{number}/lines/{line_id}"),
    ("DELETE", "/api/v1/procurement/requisitions/{number}/lines/{line_id}"),
    ("POST", "/api/v1/procurement/requisitions/{number}/approve"),
    ("GET", "/api/v1/procurement/purchase-orders"),
    ("POST", "/api/v1/procurement/expected-receipts/refresh"),
    ("GET", "/api/v1/procurement/scorecards"),
    ("GET", "/api/v1/procurement/scorecards/{supplier}"),
}
# actions named wholly by their path: a POST that takes no body
BODYLESS = {
    ("POST", "/api/v1/procurement/requisitions/{number}/approve"),
    ("POST", "/api/v1/procurement/expected-receipts/refresh"),
}


@schemathesis.serializer(MSGPACK)
def _msgpack(ctx: Any, value: Any) -> bytes:
    try:
        return msgspec.msgpack.encode(value)
    except OverflowError:  # an int beyond 64 bits has no MessagePack form: send JSON bytes instead
        return msgspec.json.encode(value)


def _content_type(response: Any) -> str:
    value = response.headers.get("content-type", "")
    return value if isinstance(value, str) else "".join(value)


class PushSteering:
    """Turns a generated valid push into one the server will open: this device's site and seqs
    that continue from what it acknowledged (else nearly all are 403 ``wrong_site`` or 409
    ``gap``). Every other change also gets a real table, a UUID pk and the generated values as
    text in that table's text columns, so the merge stores Hypothesis' strings; the rest stay as
    generated and exercise the per-change checks."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.acked = 0

    def __call__(self, case: Any) -> Any:
        body = case.body
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            return case
        body["site"] = self.site
        for i, change in enumerate(body["changes"]):
            if not isinstance(change, dict):
                continue
            change["seq"] = self.acked + 1 + i
            if i % 2 == 0:
                table = LWW_TABLES[i // 2 % len(LWW_TABLES)]
                texts = [c.name for c in table.columns if c.type is ColType.TEXT and not c.choices]
                vals = change.get("vals") if isinstance(change.get("vals"), dict) else {}
                change["table"] = table.name
                change["pk"] = str(uuid.uuid5(uuid.NAMESPACE_URL, repr(change.get("pk"))))
                change["vals"] = {texts[j % len(texts)]: str(v)[:200] for j, v in enumerate(vals.values())} or {
                    texts[0]: "generated"}
        return case

    def saw(self, response: Any) -> None:
        if response.status_code == 200:
            body = (msgspec.msgpack.decode(response.content) if _content_type(response).startswith(MSGPACK)
                    else response.json())
            self.acked = max(self.acked, int(body["acked"]))


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, device: SyncClient,
          steering: PushSteering) -> int:
    """Send up to EXAMPLES_PER_OPERATION generated requests; return how many were sent."""
    sent = 0
    strategy = operation.as_strategy(generation_mode=mode)
    steer = operation.path == PUSH and mode is GenerationMode.POSITIVE
    if steer:
        strategy = strategy.map(steering)

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {device.token}"},
                             timeout=30)
        sent += 1
        if steer:
            steering.saw(response)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            ctype = _content_type(response)
            body = msgspec.msgpack.decode(response.content) if ctype.startswith(MSGPACK) else response.json()
            assert isinstance(body, dict) and set(body) == {"error", "detail"}, (response.status_code, body)

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing in this operation can be made invalid (no parameters, or only free-form text)
    return sent


def test_every_operation_declares_its_request_bodies_and_responses(http: httpx.Client) -> None:
    doc = http.get("/schema/openapi.json").json()
    ops = {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()}
    assert set(ops) == EXPECTED_OPERATIONS
    for (method, path), op in ops.items():
        if method == "POST" and (method, path) not in BODYLESS:
            content = op.get("requestBody", {}).get("content", {})
            assert {"application/json", MSGPACK} <= set(content), (method, path)
            assert content["application/json"]["schema"].get("properties"), (method, path)
            assert content["application/json"]["schema"].get("required"), (method, path)
        assert any(code.startswith("2") for code in op["responses"]), (method, path)
        if path not in ("/api/v1/health", "/api/v1/devices/enrol"):
            assert "401" in op["responses"], (method, path)


def test_no_operation_answers_with_a_server_error(live_server: LiveServer, http: httpx.Client,
                                                  subtests: Any) -> None:
    device = SyncClient.enrolled(http, BOOT, user="fuzzer", role="backoffice")
    schema = schemathesis.openapi.from_url(f"{live_server.url}/schema/openapi.json")
    schema.config.update(base_url=live_server.url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == EXPECTED_OPERATIONS
    steering = PushSteering(device.device_id)
    sent: dict[tuple[str, str, str], int] = {}
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with subtests.test(msg=f"{op.method.upper()} {op.path} ({mode.value})"):
                sent[(op.method.upper(), op.path, mode.value)] = _fuzz(op, mode, live_server.url, device, steering)
    assert all(n > 0 for (_, _, mode), n in sent.items() if mode == "positive"), sent
    assert sum(sent.values()) >= len(EXPECTED_OPERATIONS) * EXAMPLES_PER_OPERATION, sent
    assert steering.acked > 0, "no generated push got through to the checks"
    pulled = http.get("/api/v1/sync/pull", params={"limit": 5000}, headers=device.headers).json()["changes"]
    assert any(c["site"] == device.device_id for c in pulled), "no generated change got through to the merge"
