"""English and Simplified Chinese: the two catalogues say the same things, every label a page
asks for exists, and the language follows the switch, else the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.web.backoffice import i18n
from server.web.backoffice.i18n import CATALOGUES, choose
from server.web.backoffice.queries import MASTER_KINDS
from tests.web.conftest import Demo

PACKAGE = Path(i18n.__file__).resolve().parent
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.-]+)["']\s*[,)]""")


def test_both_catalogues_have_the_same_keys_and_no_empty_label() -> None:
    en, zh = CATALOGUES["en"], CATALOGUES["zh"]
    assert sorted(set(en) - set(zh)) == [] and sorted(set(zh) - set(en)) == []
    assert [k for k in en if not en[k].strip() or not zh[k].strip()] == []


def test_the_same_placeholders_appear_in_both_languages() -> None:
    fields = re.compile(r"\{(\w+)\}")
    en, zh = CATALOGUES["en"], CATALOGUES["zh"]
    assert {k: set(fields.findall(en[k])) for k in en} == {k: set(fields.findall(zh[k])) for k in en}


def test_every_label_a_template_or_page_names_is_in_the_catalogue() -> None:
    sources = [*PACKAGE.glob("templates/*.html"), *PACKAGE.glob("*.py")]
    named = {key for path in sources for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8"))}
    assert len(named) > 100
    assert sorted(named - set(CATALOGUES["en"])) == []
    composed = {f"kind_{k}" for k in MASTER_KINDS} | {f"col_{c}" for k in MASTER_KINDS.values() for c in k.columns}
    assert sorted(composed - set(CATALOGUES["en"])) == []


def test_chinese_labels_are_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for key in ("nav_sync", "nav_master", "nav_planning", "kitting_title", "create_production", "col_sku"):
        assert han.search(CATALOGUES["zh"][key]), key


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    (None, "en-GB,en;q=0.9,zh-CN;q=0.8", "en"),
    (None, "fr-FR, zh-TW;q=0.5, en;q=0.3", "zh"),
    (None, "de, fr", "en"),
    (None, "en;q=0.2, zh;q=0.9", "zh"),
    ("en", "zh-CN", "en"),
    ("zh", "en-US", "zh"),
    ("xx", "zh", "zh"),
    (None, "zh;q=abc, en", "en"),
])
def test_the_switch_wins_then_accept_language_then_english(cookie: str | None, header: str | None,
                                                           expected: str) -> None:
    assert choose(cookie, header) == expected


def test_the_switch_shows_chinese_labels_and_comes_back_to_the_page(demo: Demo) -> None:
    with demo.login() as c:
        r = c.get("/backoffice/lang/zh", params={"next": "/backoffice/master/products?q=desk"})
        assert r.status_code == 303 and r.headers["location"] == "/backoffice/master/products?q=desk"
        assert "fs_lang=zh" in r.headers["set-cookie"]
        c.cookies.set("fs_lang", "zh")
        text = c.get(r.headers["location"]).text
        assert "基础资料" in text and "物料编码" in text and "FG-DESK-140" in text and 'lang="zh-CN"' in text
        assert c.get("/backoffice/lang/en", params={"next": "https://evil.example/"}).headers["location"] \
            == "/backoffice/"


def test_a_chinese_browser_gets_chinese_before_choosing(demo: Demo) -> None:
    with demo.client(headers={"Accept-Language": "zh-CN,zh;q=0.9"}) as c:
        assert "后台令牌" in c.get("/backoffice/login").text


def test_every_refusal_with_a_chinese_text_is_a_code_the_server_raises() -> None:
    import pathlib
    import re

    from server.web.backoffice.labels_zh import REFUSALS_ZH

    root = pathlib.Path(__file__).resolve().parents[2]
    source = "".join(p.read_text() for d in ("server", "shared") for p in (root / d).rglob("*.py"))
    raised = set(re.findall(r'code\s*=\s*"([a-z_]+)"', source))
    assert set(REFUSALS_ZH) <= raised, sorted(set(REFUSALS_ZH) - raised)
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in REFUSALS_ZH.values())
