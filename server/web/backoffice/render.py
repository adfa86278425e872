"""Jinja2 for the back office: one environment (autoescaped), the filters that show dates and
decimals plainly, and the response helpers. No business rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Response

from server.domain.planning.render import qty_text
from server.web.backoffice.i18n import Lang, translator, value_translator

__all__ = ["STATIC_DIR", "env", "html", "money", "num", "pct", "round1", "when"]

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
PRICES = frozenset({"unit_price", "standard_cost"})


def num(value: Any, column: str = "") -> str:
    """A decimal as plain text: quantities without trailing zeros, prices at their own scale."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f") if column in PRICES else qty_text(value)
    return str(value)


def pct(value: Any) -> str:
    """A fraction (decimal text from a service) as a percentage with one decimal: 0.975 -> 97.5 %."""
    if value is None or value == "":
        return ""
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.1'))} %"


def money(value: Any) -> str:
    """An amount (decimal text from a service) to the cent."""
    if value is None or value == "":
        return ""
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def round1(value: Any) -> str:
    return "" if value is None or value == "" else str(Decimal(str(value)).quantize(Decimal("0.1")))


def when(value: Any) -> str:
    """A date as YYYY-MM-DD; a moment as YYYY-MM-DD HH:MM in UTC."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)  # ISO text from a service: 2026-11-25T10:00:00.123Z
    return text[:16].replace("T", " ") if "T" in text else text


env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
env.filters["num"] = num
env.filters["when"] = when
env.filters["pct"] = pct
env.filters["money"] = money
env.filters["round1"] = round1


def html(template: str, lang: Lang, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> Response[str]:
    body = env.get_template(template).render(t=translator(lang), tv=value_translator(lang), lang=lang,
                                                **context)
    # Litestar adds "; charset=utf-8" to a text media type itself
    return Response(body, status_code=status, media_type="text/html", headers=headers)
