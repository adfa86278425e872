"""The goods receipt rules as pure functions, and the tolerance setting read from the environment."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from server.config import load_settings
from server.domain.procurement.receipts import Line, Receipt, check, receipt_status, received

LINE = Line("l1", "PO-1", "BOLT", "p1", "w1", "WH1", D(100), D(0), "open")


def delivery(accepted: str, rejected: str = "0", reason: str | None = "bent") -> Receipt:
    return Receipt("r1", "l1", "p1", "w1", D(accepted), D(rejected), reason)


def test_the_tolerance_counts_everything_delivered_even_after_the_line_closed() -> None:
    full = received(LINE, delivery("97", "3"))
    assert (full.qty_received, full.status) == (D(100), "closed")
    assert check(full, delivery("5"), D(5)) is None  # 105: within 5 %
    refusal = check(full, delivery("5", "1"), D(5))
    assert refusal is not None and refusal.code == "over_receipt"
    assert check(LINE, delivery("100"), D(0)) is None
    refusal = check(LINE, delivery("100.001"), D(0))
    assert refusal is not None and refusal.text.endswith("tolerance 0 % allows at most 100 more")


def test_a_line_closed_short_takes_nothing_more_and_statuses_follow_the_line() -> None:
    short = Line("l1", "PO-1", "BOLT", "p1", "w1", "WH1", D(100), D(40), "closed")
    refusal = check(short, delivery("1"), D(5))
    assert refusal is not None and refusal.code == "receipt_closed"
    assert [receipt_status(D(100), D(r), s) for r, s in [("0", "open"), ("40", "open"), ("40", "closed"),
                                                          ("100", "closed"), ("103", "closed")]] == [
        "expected", "receiving", "closed", "received", "received"]


@pytest.mark.parametrize(("raw", "want"), [(None, D(5)), ("", D(5)), ("0", D(0)), ("2.5", D("2.5"))])
def test_the_tolerance_comes_from_the_environment(raw: str | None, want: D) -> None:
    env = {"FIELDSYNC_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    if raw is not None:
        env["FIELDSYNC_RECEIPT_TOLERANCE_PCT"] = raw
    assert load_settings(env).receipt_tolerance_pct == want


@pytest.mark.parametrize("raw", ["five", "-1", "NaN", "1001"])
def test_a_bad_tolerance_stops_the_server_with_a_message(raw: str) -> None:
    with pytest.raises(SystemExit, match="FIELDSYNC_RECEIPT_TOLERANCE_PCT"):
        load_settings({"FIELDSYNC_DATABASE_URL": "sqlite+aiosqlite:///:memory:",
                       "FIELDSYNC_RECEIPT_TOLERANCE_PCT": raw})
