"""Screenshots of every back-office page in English and Chinese, for a person to look at:
``.venv/bin/python -m tests.web.screenshots /tmp/shots`` (SQLite, demo company, headless
Chromium). Not a test; the PNGs are not committed."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from server.config import Settings
from tests.server.client import SyncClient
from tests.server.conftest import LiveServer
from tests.web.conftest import BOOT, CHROMIUM, CHROMIUM_ARGS, _load

PAGES = [
    ("login", "/backoffice/login"),
    ("sync", "/backoffice/sync"),
    ("products", "/backoffice/master/products"),
    ("products-filtered", "/backoffice/master/products?q=chair"),
    ("customers", "/backoffice/master/customers"),
    ("suppliers", "/backoffice/master/suppliers"),
    ("price-agreements", "/backoffice/master/price-agreements"),
    ("warehouses", "/backoffice/master/warehouses"),
    ("product-bom", "/backoffice/master/product/FG-DESK-160E"),
    ("planning", "/backoffice/planning"),
    ("run", "{run}"),
    ("allocation", "{run}/allocation"),
    ("compare", "/backoffice/planning/compare?a={a}&b={b}"),
    ("kitting", "/backoffice/planning/kitting?sku=FG-DESK-160E&warehouse=WH1&by=2026-12-31"),
    ("orders", "/backoffice/orders"),
    ("requisitions", "/backoffice/procurement/requisitions"),
    ("requisition", "{requisition}"),
    ("purchase-orders", "/backoffice/procurement/purchase-orders"),
    ("scorecards", "/backoffice/procurement/scorecards?from=2026-01-01&to=2027-06-30"),
    ("refusal", "/backoffice/planning/kitting?sku=RM-TUBE-60&warehouse=WH1"),
    ("no-such-page", "/backoffice/nope"),
]


def main(out: Path, extra: list[tuple[str, str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/shots.db", bootstrap_token=BOOT)
        asyncio.run(_load(settings))
        server = LiveServer(settings)
        server.start()
        try:
            with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as c:
                c.post("/backoffice/login", data={"token": BOOT})
                a = c.post("/backoffice/planning/runs", data={"today": "2026-12-01"}).headers["location"]
                b = c.post("/backoffice/planning/runs", data={"today": "2026-12-08"}).headers["location"]
                made = c.post("/backoffice/procurement/requisitions/from-run", data={"run_id": a.rsplit("/", 1)[1]})
                first = re.findall(r'href="(/backoffice/procurement/requisitions/PR-[^"]+)"', made.text)[0]
                rep = SyncClient.enrolled(c, BOOT, user="alice", role="sales")
                rep.pull_all()
                order = next(pk for (table, pk), cells in rep.seen.items() if table == "sales_order")
                rep.push([rep.change("sales_order", order, {"status": "draft"}),
                          rep.change("product", str(uuid.uuid4()), {"name": "not a rep's to write"})])
            ids = {"run": a, "a": a.rsplit("/", 1)[1], "b": b.rsplit("/", 1)[1], "requisition": first}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                for lang in ("en", "zh"):
                    ctx = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 900},
                                              locale="zh-CN" if lang == "zh" else "en-GB")
                    ctx.add_cookies([{"name": "fs_lang", "value": lang, "url": server.url}])
                    page = ctx.new_page()
                    page.goto("/backoffice/login")
                    page.screenshot(path=str(out / f"{lang}-login.png"))
                    page.fill("#token", BOOT)
                    page.click("button[type=submit]")
                    page.wait_for_url(re.compile(r".*/backoffice/sync$"))
                    for name, path in PAGES[1:] + extra:
                        page.goto(path.format(**ids))
                        page.screenshot(path=str(out / f"{lang}-{name}.png"), full_page=True)
                        if page.evaluate("document.body.scrollHeight") > 1800:  # and a top a viewer can read
                            page.screenshot(path=str(out / f"{lang}-{name}-top.png"), full_page=True,
                                            clip={"x": 0, "y": 0, "width": 1360, "height": 1100})
                    ctx.close()
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="backoffice-shots-")),
         [(p.strip("/").replace("/", "-"), p) for p in sys.argv[2:]])
