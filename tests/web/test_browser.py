"""The back office in a real headless Chromium: what needs a browser (the login form and its
cookie, htmx swapping rows as one types, the confirm dialog of a revoke, ticking boxes), in a
few page visits. Everything else is checked over plain HTTP in test_pages.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import Demo


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    context = browser.new_context(base_url=demo.url, locale="en-GB", viewport={"width": 1360, "height": 900})
    p = context.new_page()
    p.set_default_timeout(15_000)
    try:
        yield p
    finally:
        context.close()


def _sign_in(page: Any, token: str) -> None:
    page.goto("/backoffice/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_sign_in_refuses_a_sales_token_then_takes_a_backoffice_one_and_speaks_chinese(
        page: Any, demo: Demo, shots: Path) -> None:
    _sign_in(page, demo.tokens["sales"])
    assert "belongs to a sales device" in page.inner_text(".msg.error")
    _sign_in(page, demo.tokens["backoffice"])
    page.wait_for_url("**/backoffice/sync")
    assert page.is_visible("text=Active devices")
    page.click("text=中文")
    page.wait_for_selector("text=在用设备")
    nav = page.inner_text("header nav")
    assert "同步" in nav and "基础资料" in nav and "计划" in nav
    page.screenshot(path=str(shots / "sync-zh.png"), full_page=True)


def test_typing_in_the_filter_swaps_the_product_rows_in_place(page: Any, demo: Demo) -> None:
    _sign_in(page, demo.tokens["backoffice"])
    page.goto("/backoffice/master/products")
    assert page.is_visible("#rows >> text=FG-DESK-140")
    page.fill("input[name=q]", "chair")
    page.wait_for_selector("#rows >> text=FG-DESK-140", state="detached")
    rows = page.inner_text("#rows tbody")
    assert "FG-CHAIR-ERG" in rows and "FG-CHAIR-VIS" in rows
    assert "q=chair" in page.url  # the filter is in the address, so a reload keeps it


def test_revoking_a_device_in_the_page_removes_its_row(page: Any, demo: Demo) -> None:
    _sign_in(page, demo.tokens["backoffice"])
    page.goto("/backoffice/sync")
    row = page.locator("#devices tbody tr", has_text="warehouse").first
    device_id = row.get_attribute("data-device")
    page.once("dialog", lambda d: d.accept())
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector(f'#devices tr[data-device="{device_id}"]', state="detached")
    page.reload()
    assert page.locator(f'#devices tr[data-device="{device_id}"]').count() == 0
    assert page.locator("#revoked", has_text=str(device_id)).count() == 1


def test_ticking_a_sales_order_creates_its_production_order(page: Any, demo: Demo) -> None:
    _sign_in(page, demo.tokens["backoffice"])
    page.goto("/backoffice/orders")
    box = page.locator("#open-orders input[name=order]").first
    number = box.get_attribute("value")
    box.check()
    page.click("#create-production")
    page.wait_for_selector("#created")
    assert number in page.inner_text("#created")
    assert page.locator(f'#open-orders input[value="{number}"]').count() == 0
