"""The bulk merge keeps, cell by cell, the greatest (ts, site) also when one batch writes a row
several times (PostgreSQL folds such writes before its one statement per batch)."""

from __future__ import annotations

import itertools
import random
import uuid

import pytest

from server.domain.sync import store
from sync.merge import version_bytes
from tests.server.client import Service

pytestmark = pytest.mark.anyio

SITES = ["0190a0b0-0000-7000-8000-00000000000a", "0190a0b0-0000-7000-8000-00000000000b"]


def _expected(writes: list[store.LwwWrite]) -> dict[str, dict[str, object]]:
    best: dict[tuple[str, str], tuple[bytes, object]] = {}
    for w in writes:
        for col, value in w.vals.items():
            v = version_bytes(w.ts, w.site, 0)
            held = best.get((w.pk, col))
            if held is None or v > held[0]:
                best[(w.pk, col)] = (v, value)
    out: dict[str, dict[str, object]] = {}
    for (pk, col), (_, value) in best.items():
        out.setdefault(pk, {})[col] = value
    return out


async def test_one_batch_writing_a_row_many_times_keeps_the_greatest_version_of_each_cell(service: Service) -> None:
    rnd = random.Random(3)
    pks = [str(uuid.uuid4()) for _ in range(5)]
    shapes = [("name",), ("name", "barcode"), ("barcode", "uom")]
    # a device never stamps two writes alike, but two devices do: ties on ts are broken by site
    stamps = [(ts << 16, site) for ts in range(1, 81) for site in SITES]
    rnd.shuffle(stamps)
    batches = []
    for b in range(4):
        batch = []
        for i in range(40):
            cols = rnd.choice(shapes)
            ts, site = stamps[b * 40 + i]
            batch.append(store.LwwWrite(rnd.choice(pks), ts, site, {c: f"{c}-{b}-{i}" for c in cols}))
        batches.append(batch)
    for batch in batches:
        await service.db.run_write(lambda conn, b=batch: store.apply_lww(conn, "product", b, store.next_rev(conn)))
    rows = await service.db.run_read(store.fetch_rows, "product", pks)
    want = _expected(list(itertools.chain.from_iterable(batches)))
    assert {pk: {c: rows[pk][c] for c in cells} for pk, cells in want.items()} == want
