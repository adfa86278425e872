"""The back office's two catalogues of labels (English in ``labels_en.py``, Simplified Chinese in
``labels_zh.py``, a dict each) and how a request's language is chosen: the ``fs_lang`` cookie set
by the switch, else the browser's Accept-Language, else English. Pure. ``tests/web/test_i18n.py``
checks that both catalogues have the same keys and that every key a template names exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from server.web.backoffice.labels_en import EN
from server.web.backoffice.labels_zh import ZH

__all__ = ["CATALOGUES", "LANGS", "LANG_COOKIE", "Lang", "choose", "translator", "value_translator"]

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_COOKIE = "fs_lang"

CATALOGUES: dict[Lang, dict[str, str]] = {"en": EN, "zh": ZH}


def translator(lang: Lang) -> Callable[..., str]:
    """``t(key, **values)``: the label in ``lang``, with ``{name}`` fields filled in. A key missing
    from the catalogue is a bug, so it raises."""
    catalogue = CATALOGUES[lang]

    def t(key: str, **values: object) -> str:
        text = catalogue[key]
        return text.format(**values) if values else text

    return t


def value_translator(lang: Lang) -> Callable[[str, object], str]:
    """``tv(prefix, value)``: a stored value (a status, a kind) in words when the catalogue knows
    it, else the value itself, so a new status still shows."""
    catalogue = CATALOGUES[lang]

    def tv(prefix: str, value: object) -> str:
        text = "" if value is None else str(value)
        return catalogue.get(prefix + text, text)

    return tv


def choose(cookie: str | None, accept_language: str | None) -> Lang:
    """The switch's cookie wins; else the first of Accept-Language's languages (by q) that we
    speak; any Chinese tag reads Simplified Chinese; else English."""
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        base = tag.split("-")[0]
        if base == "zh":
            return "zh"
        if base == "en":
            return "en"
    return "en"
