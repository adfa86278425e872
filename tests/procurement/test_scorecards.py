"""Supplier scorecards as a pure function: each part by its formula, worked by hand, and the
combined score with parts that have no data left out of the weights."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from server.domain.procurement.scorecards import (
    AgreedPrice,
    Delivery,
    OrderedLine,
    agreed_price,
    scorecards,
    suppliers_below,
)

DAY = dt.date(2026, 12, 1)


def day(n: int) -> dt.date:
    return DAY + dt.timedelta(days=n)


def tiers(supplier: str = "S1", product: str = "P") -> list[AgreedPrice]:
    return [AgreedPrice(supplier, product, "purchase", D(1), D("2.00"), day(-100), None),
            AgreedPrice(supplier, product, "purchase", D(100), D("1.50"), day(-100), day(-1)),
            AgreedPrice(supplier, product, "purchase", D(100), D("1.60"), day(0), None),
            AgreedPrice(supplier, product, "subcontract", D(1), D("9.00"), day(-100), None)]


def test_the_agreed_price_is_the_tier_the_quantity_reaches_on_the_order_date() -> None:
    line = OrderedLine("a", "S1", "P", D(150), day(10), "open", unit_price=D(2), ordered_on=day(0))
    assert agreed_price(line, tiers()) == D("1.60")  # the 1.50 tier ended the day before
    assert agreed_price(OrderedLine("b", "S1", "P", D(99), day(10), "open", ordered_on=day(-5)), tiers()) == D("2.00")
    assert agreed_price(OrderedLine("c", "S1", "P", D(5), day(10), "open", kind="subcontract",
                                    ordered_on=day(0)), tiers()) == D("9.00")
    assert agreed_price(OrderedLine("d", "S1", "P", D(5), day(10), "open"), tiers()) is None  # imported: no date
    assert agreed_price(OrderedLine("e", "S2", "P", D(5), day(10), "open", ordered_on=day(0)), tiers()) is None


def test_each_part_of_a_scorecard_follows_its_formula() -> None:
    lines = [
        OrderedLine("a", "S1", "P", D(100), day(10), "closed", unit_price=D("1.76"), ordered_on=day(0)),  # 1.60 agreed
        OrderedLine("b", "S1", "P", D(50), day(5), "open", unit_price=D("2.00"), ordered_on=day(0)),  # 2.00 agreed
        OrderedLine("c", "S1", "P", D(10), day(40), "open"),  # not due yet, nothing came: not counted for quantity
    ]
    deliveries = [Delivery("a", day(9), D(60), D(0)), Delivery("a", day(12), D(30), D(10)),  # late, 10 rejected
                  Delivery("b", day(5), D(25), D(0))]  # half of b, on its due date
    (card,) = scorecards(lines, deliveries, tiers(), today=day(20))
    assert (card.lines, card.receipts) == (3, 3)
    assert card.on_time_rate == D("0.6667")  # 2 of 3 receipts
    assert card.quality_rate == D("0.9200")  # 115 / 125
    assert card.quantity_accuracy == D("0.7500")  # a: 100 of 100 -> 1; b (past due): 25 of 50 -> 0.5
    # paid 100 x 1.76 + 50 x 2.00 = 276 against 100 x 1.60 + 50 x 2.00 = 260: +6.15 %
    assert card.price_variance == D("0.0615")
    # 100 x (0.35 x 0.6667 + 0.35 x 0.92 + 0.20 x 0.75 + 0.10 x 0.9385) = 79.92
    assert card.score == D("79.9")


def test_parts_without_data_leave_the_weights_and_no_data_gives_no_score() -> None:
    lines = [OrderedLine("a", "S1", "P", D(10), day(10), "open"), OrderedLine("z", "S2", "P", D(5), day(30), "open")]
    s1, s2 = scorecards(lines, [Delivery("a", day(1), D(10), D(0))], [], today=day(2))
    assert (s1.on_time_rate, s1.quality_rate, s1.quantity_accuracy, s1.price_variance) == (D(1), D(1), None, None)
    assert s1.score == D("100.0")
    assert (s2.supplier, s2.receipts, s2.score) == ("S2", 0, None)
    # paying less than agreed earns nothing extra; never delivering a due line scores 0 on quantity
    cheap = [OrderedLine("a", "S1", "P", D(10), day(1), "open", unit_price=D(1), ordered_on=day(0))]
    (card,) = scorecards(cheap, [], tiers(), today=day(5))
    assert (card.price_variance, card.quantity_accuracy, card.score) == (D("-0.5"), D(0), D("33.3"))


def test_suppliers_below_a_threshold() -> None:
    assert suppliers_below({"S1": D("80.0"), "S2": D("59.9"), "S3": D(60)}, D(60)) == {"S2"}
