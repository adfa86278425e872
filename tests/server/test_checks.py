"""The compiled per-table checks accept and refuse exactly what ``shared.values.coerce`` does."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from server.domain.sync.checks import check_change
from server.domain.sync.principal import Principal
from shared.registry import DELETED, REGISTRY, Kind, Role
from shared.values import ValueError_, coerce
from sync.protocol import Change, Rejection

BACKOFFICE = Principal(device_id="d", user="anna", role=Role.BACKOFFICE, warehouse_id=None)
NOW = 1_700_000_000_000

raw_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.sampled_from(["make", "buy", "draft", "shipped", "12.50", "2026-01-02", "x" * 2001, "a\x00b"]),
    st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.uuids().map(lambda u: "{" + str(u) + "}"),
)
cells = st.sampled_from([(t.name, c) for t in REGISTRY.values() for c in t.cell_names])


def _expected(table: str, cell: str, raw: object) -> object:
    t = REGISTRY[table]
    col = t.column(cell)
    assert col is not None
    nullable = not (cell == DELETED or (t.kind is Kind.LEDGER and col.required))
    try:
        return coerce(col.type, raw, choices=col.choices, nullable=nullable)
    except ValueError_ as exc:
        return Rejection(seq=1, reason="invalid_value", detail=f"{table}.{cell}: {exc}")


@given(cells, raw_values)
def test_a_value_is_accepted_or_refused_as_coerce_decides(cell: tuple[str, str], raw: object) -> None:
    table, name = cell
    t = REGISTRY[table]
    vals = {c.name: _valid(c.type.value) for c in t.columns if c.required}
    vals[name] = raw
    result = check_change(Change(seq=1, table=table, pk=str(uuid.uuid4()), ts=NOW << 16, vals=vals),
                          BACKOFFICE, NOW, 60_000)
    expected = _expected(table, name, raw)
    if isinstance(expected, Rejection):
        assert result == expected
    else:
        assert not isinstance(result, Rejection), result
        assert result.vals[name] == expected and type(result.vals[name]) is type(expected)


def _valid(kind: str) -> object:
    return {"id": str(uuid.uuid4()), "decimal": "1", "text": "receipt"}.get(kind, "receipt")


@given(st.one_of(st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), st.text(max_size=40),
                 st.uuids().map(lambda u: u.hex)))
def test_a_pk_must_be_a_canonical_lowercase_uuid(pk: str) -> None:
    result = check_change(Change(seq=1, table="product", pk=pk, ts=NOW << 16, vals={"name": "x"}),
                          BACKOFFICE, NOW, 60_000)
    try:
        canonical = str(uuid.UUID(pk)) == pk
    except ValueError:
        canonical = False
    assert isinstance(result, Rejection) != canonical
    if isinstance(result, Rejection):
        assert result.reason == "invalid_value" and result.detail.startswith("pk must be")
