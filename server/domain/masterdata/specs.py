"""The CSV files of PLANNING.md, column by column: what each cell must hold, which cells may be
empty, which columns name a row of another file, and each file's key.

Pure: strings in, typed values or a :class:`CellError` out. The importer, the back-office API and
docs/import.md all follow this one table, so a file is described once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from server.db.masterdata import PRICE_KINDS
from shared.registry import LOT_RULES
from shared.values import MAX_TEXT

__all__ = [
    "FILES",
    "FILE_NAMES",
    "KINDS",
    "SPECS",
    "CellError",
    "Col",
    "FileSpec",
    "Parse",
    "label",
]

Parse = Callable[[str], Any]
ZERO = Decimal(0)


class CellError(ValueError):
    """A cell that does not fit its column; the message says what was expected."""


# ---- cell parsers -------------------------------------------------------------------------------

_DECIMAL_RE = re.compile(r"^-?\d{1,18}(\.\d{1,9})?$")
_WHOLE_RE = re.compile(r"^-?\d{1,15}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _labelled(parse: Parse, label: str) -> Parse:
    parse.label = label  # type: ignore[attr-defined]  # what docs and messages call the cell's type
    return parse


def label(parse: Parse) -> str:
    return str(getattr(parse, "label", "text"))


def text(raw: str) -> str:
    if len(raw) > MAX_TEXT:
        raise CellError(f"text longer than {MAX_TEXT} characters")
    if "\x00" in raw:
        raise CellError("text contains a NUL character")
    return raw


def decimal(*, positive: bool = False) -> Parse:
    """A plain decimal (digits, an optional point; no exponent, sign or thousands separator),
    at least zero, or above zero when ``positive``."""

    def parse(raw: str) -> Decimal:
        if not _DECIMAL_RE.match(raw):
            hint = " (use a point as the decimal separator)" if re.fullmatch(r"-?\d+,\d+", raw) else ""
            raise CellError(f"expected a plain decimal number such as 12.50, got {raw[:60]!r}{hint}")
        value = Decimal(raw)
        if positive and value <= 0:
            raise CellError(f"must be greater than 0, got {raw}")
        if value < 0:
            raise CellError(f"must not be negative, got {raw}")
        return value

    return _labelled(parse, "decimal > 0" if positive else "decimal >= 0")


def whole(minimum: int) -> Parse:
    def parse(raw: str) -> int:
        if not _WHOLE_RE.match(raw):
            raise CellError(f"expected a whole number, got {raw[:60]!r}")
        value = int(raw)
        if value < minimum:
            raise CellError(f"must be at least {minimum}, got {raw}")
        return value

    return _labelled(parse, f"whole number >= {minimum}")


def date(raw: str) -> dt.date:
    """An ISO date, YYYY-MM-DD."""
    if not _DATE_RE.match(raw):
        raise CellError(f"expected an ISO date YYYY-MM-DD, got {raw[:60]!r}")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise CellError(f"{raw!r} is not a date: {exc}") from None


def boolean(raw: str) -> bool:
    """true or false (any case)."""
    low = raw.lower()
    if low not in ("true", "false"):
        raise CellError(f"expected true or false, got {raw[:60]!r}")
    return low == "true"


def choice(*choices: str) -> Parse:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise CellError(f"expected one of {', '.join(choices)}, got {raw[:60]!r}")
        return raw

    return _labelled(parse, " / ".join(f"`{c}`" for c in choices))


def barcode(raw: str) -> str:
    """A GS1 code (8, 12, 13 or 14 digits) must carry a right check digit; any other code is
    taken as it is (an internal Code 128 label), as long as it has no spaces."""
    if any(ch.isspace() for ch in raw) or len(raw) > 64:
        raise CellError(f"expected a barcode without spaces, at most 64 characters, got {raw[:60]!r}")
    if raw.isascii() and raw.isdigit() and len(raw) in (8, 12, 13, 14):
        total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(raw[:-1])))
        if (10 - total % 10) % 10 != int(raw[-1]):
            raise CellError(f"barcode {raw} has a wrong check digit")
    return raw


_labelled(date, "ISO date")
_labelled(boolean, "`true` / `false`")
_labelled(barcode, "barcode")


# ---- the files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    name: str
    parse: Parse = text
    required: bool = True
    ref: str | None = None  # the file whose key this column must name (in the files or stored)
    default: Any = None  # the value of an empty optional cell
    example: str = ""
    note: str = ""

    @property
    def type_name(self) -> str:
        return f"a key of {self.ref}" if self.ref is not None else label(self.parse)


@dataclass(frozen=True)
class FileSpec:
    name: str  # e.g. "products.csv"
    cols: tuple[Col, ...]
    key: tuple[str, ...]  # unique within the file; a re-import finds stored rows by it
    kind: str | None = None  # its name in the back-office API, /api/v1/master/{kind}
    about: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cols)

    @property
    def by_name(self) -> Mapping[str, Col]:
        return {c.name: c for c in self.cols}


def _sku(name: str = "sku", example: str = "FG-DESK-140") -> Col:
    return Col(name, ref="products.csv", example=example)


_WH = Col("warehouse", ref="warehouses.csv", example="WH1")
_NONNEG, _POSITIVE = decimal(), decimal(positive=True)

# in load order: every file comes after the files it names
FILES: tuple[FileSpec, ...] = (
    FileSpec("warehouses.csv", (
        Col("code", example="WH1"),
        Col("name", example="Main plant, Tilburg"),
    ), ("code",), about="Warehouses (synced to every device)."),
    FileSpec("products.csv", (
        Col("sku", example="FG-DESK-140"),
        Col("name", example="Office desk 140x70"),
        Col("uom", example="pcs", note="unit of measure"),
        Col("kind", choice("make", "buy", "subcontract"), example="make"),
        Col("lead_time_days", whole(0), required=False, default=0, example="4"),
        Col("safety_stock", _NONNEG, required=False, default=ZERO, example="10"),
        Col("lot_rule", choice(*LOT_RULES), required=False, default="lot_for_lot", example="min"),
        Col("lot_qty", _NONNEG, required=False, example="20",
            note="needed, and above 0, when lot_rule is min or multiple"),
        Col("barcode", barcode, required=False, example="8719327001011",
            note="GS1 codes must carry a right check digit; unique over all products"),
        Col("standard_cost", _NONNEG, required=False, example="93.99"),
    ), ("sku",), about="Products (synced to every device)."),
    FileSpec("bom.csv", (
        _sku("parent_sku"),
        _sku("component_sku", "SA-TOP-140"),
        Col("qty_per", _POSITIVE, example="1.05", note="per one parent"),
        Col("scrap_pct", _NONNEG, required=False, default=ZERO, example="6",
            note="percent; the requirement is qty_per x (1 + scrap_pct / 100)"),
    ), ("parent_sku", "component_sku"), kind="bom",
        about="Bills of materials: one line per parent and component (server only)."),
    FileSpec("stock.csv", (
        _sku(),
        _WH,
        Col("qty", _NONNEG, example="18", note="the quantity counted"),
    ), ("sku", "warehouse"), about="Stock counts: a count move when the quantity differs from on hand."),
    FileSpec("suppliers.csv", (
        Col("code", example="S01"),
        Col("name", example="Staalhandel Brabant BV"),
        Col("capacity_per_week", _NONNEG, required=False, example="2500",
            note="units over all items; empty = unlimited"),
        Col("blocked", boolean, required=False, default=False, example="false"),
    ), ("code",), kind="suppliers", about="Suppliers (server only)."),
    FileSpec("price_agreements.csv", (
        Col("supplier", ref="suppliers.csv", example="S01"),
        _sku(example="RM-TUBE-60"),
        Col("kind", choice(*PRICE_KINDS), example="purchase"),
        Col("min_qty", _NONNEG, example="300", note="quantity break: the price holds from this quantity"),
        Col("unit_price", _NONNEG, example="3.95"),
        Col("valid_from", date, example="2026-01-01"),
        Col("valid_to", date, required=False, example="2027-12-31", note="empty = open-ended"),
        Col("priority", whole(1), required=False, default=1, example="1", note="1 = first choice"),
        Col("lead_time_days", whole(0), required=False, example="14", note="empty = the product's"),
    ), ("supplier", "sku", "kind", "min_qty", "valid_from"), kind="price-agreements",
        about="Price agreements, one line per quantity break (server only)."),
    FileSpec("customers.csv", (
        Col("code", example="C001"),
        Col("name", example="Brightline Consulting BV"),
        Col("owner", example="alice", note="user name of the sales rep who owns the customer"),
        Col("phone", required=False, example="+31 13 555 0142"),
        Col("address", required=False, example="Spoorlaan 21, 5038 CB Tilburg"),
    ), ("code",), about="Customers (synced to the owning rep's devices)."),
    FileSpec("sales_orders.csv", (
        Col("number", example="SO-26101"),
        Col("customer", ref="customers.csv", example="C001"),
        _sku(),
        Col("qty", _POSITIVE, example="10"),
        Col("due_date", date, example="2026-12-07"),
        _WH,
    ), ("number", "sku"),
        about="Open sales orders, one row per line; the lines of one number share customer, "
              "due_date and warehouse (synced to the owner's devices)."),
    FileSpec("forecasts.csv", (
        _sku(),
        _WH,
        Col("date", date, example="2027-01-04"),
        Col("qty", _NONNEG, example="30"),
    ), ("sku", "warehouse", "date"), kind="forecasts", about="Forecast demand (server only)."),
    FileSpec("purchase_orders.csv", (
        Col("number", example="PO-7001"),
        Col("supplier", ref="suppliers.csv", example="S02"),
        _sku(example="PT-MOTOR"),
        Col("qty", _POSITIVE, example="120"),
        Col("due_date", date, example="2026-12-15"),
        _WH,
    ), ("number", "sku"), kind="purchase-orders",
        about="Open purchase orders, one row per line; the lines of one number share the supplier "
              "(server only)."),
    FileSpec("production_orders.csv", (
        Col("number", example="MO-5001"),
        _sku(example="FG-CHAIR-ERG"),
        Col("qty", _POSITIVE, example="20"),
        Col("due_date", date, example="2026-12-04"),
        _WH,
    ), ("number",), kind="production-orders", about="Open production orders (server only)."),
)

SPECS: Mapping[str, FileSpec] = MappingProxyType({s.name: s for s in FILES})
FILE_NAMES: tuple[str, ...] = tuple(s.name for s in FILES)
KINDS: Mapping[str, FileSpec] = MappingProxyType({s.kind: s for s in FILES if s.kind is not None})
