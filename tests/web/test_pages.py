"""The back office over real HTTP with its session cookie: who may sign in, that each page shows
the demo company's real rows, and that its forms change the data through the domain services."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.server.client import SyncClient
from tests.web.conftest import Demo


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_sales_token_is_refused_and_says_which_token_is_needed(demo: Demo) -> None:
    with demo.client() as c:
        r = c.post("/backoffice/login", data={"token": demo.tokens["sales"]})
        assert r.status_code == 403
        assert "belongs to a sales device" in r.text
        assert "fs_session" not in r.headers.get("set-cookie", "")
        assert c.get("/backoffice/sync").status_code == 303  # still signed out


def test_an_unknown_or_empty_token_is_refused_with_a_message(demo: Demo) -> None:
    with demo.client() as c:
        assert c.post("/backoffice/login", data={"token": "nope"}).status_code == 401
        r = c.post("/backoffice/login", data={"token": ""})
        assert r.status_code == 400 and "Paste a token" in r.text


def test_a_backoffice_token_signs_in_with_a_strict_httponly_cookie(demo: Demo) -> None:
    with demo.client() as c:
        r = c.post("/backoffice/login", data={"token": demo.tokens["backoffice"]})
        assert r.status_code == 303 and r.headers["location"] == "/backoffice/"
        cookie = r.headers["set-cookie"].lower()
        assert "fs_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
        assert "Signed in as" in c.get("/backoffice/sync").text
        c.post("/backoffice/logout")
        assert c.get("/backoffice/sync").status_code == 303


def test_the_bootstrap_token_signs_in_too(demo: Demo) -> None:
    with demo.login("bootstrap") as c:
        assert "bootstrap" in c.get("/backoffice/sync").text


def test_pages_need_a_session_and_a_forged_cookie_is_not_one(demo: Demo) -> None:
    with demo.client(cookies={"fs_session": "eyJoIjoiYSIsInQiOjF9.forged"}) as c:
        r = c.get("/backoffice/master/products")
        assert r.status_code == 303 and r.headers["location"] == "/backoffice/login"
        r = c.get("/backoffice/master/products", headers={"HX-Request": "true"})
        assert r.status_code == 401 and r.headers["hx-redirect"] == "/backoffice/login"


def test_a_post_from_another_site_is_refused(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/planning/runs", data={"today": "2026-12-01"},
                   headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in r.text


def test_sync_page_lists_the_demo_devices_with_role_and_warehouse(demo: Demo) -> None:
    with demo.login() as c:
        text = _text(c.get("/backoffice/sync").text)
    assert "alice" in text and "WH1" in text
    assert "Active devices" in text and "Rejected changes (quarantine)" in text and "Conflicts" in text


def test_a_revoked_device_leaves_the_active_list_and_its_token_stops_working(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/api/v1/devices", json={"user": "temp-rep", "role": "sales"},
                   headers={"Authorization": f"Bearer {demo.tokens['bootstrap']}"})
        device_id = r.json()["device_id"]
        page = c.get("/backoffice/sync").text
        active = page.split('id="devices"')[1].split("</table>")[0]
        assert device_id in active
        r = c.post(f"/backoffice/sync/devices/{device_id}/revoke", headers={"HX-Request": "true"})
        assert r.status_code == 200 and r.text == ""
        page = c.get("/backoffice/sync").text
        assert device_id not in page.split('id="devices"')[1].split("</table>")[0]
        assert device_id in page.split('id="revoked"')[1]


def test_a_change_the_server_refused_shows_in_the_quarantine(demo: Demo) -> None:
    with httpx.Client(base_url=demo.url, timeout=30) as api:
        rep = SyncClient.enrolled(api, demo.tokens["bootstrap"], user="quarantine-rep", role="sales")
        answer = rep.write("product", str(uuid.uuid4()), {"name": "a rep may not write products"})
    assert answer["rejected"], answer
    with demo.login() as c:
        quarantined = c.get("/backoffice/sync").text.split('id="rejected"')[1].split("</table>")[0]
    assert "quarantine-rep" in quarantined and "product" in quarantined
    assert answer["rejected"][0]["reason"] in quarantined


def test_a_status_that_tried_to_go_back_shows_in_the_conflicts(demo: Demo) -> None:
    with httpx.Client(base_url=demo.url, timeout=30) as api:
        rep = SyncClient.enrolled(api, demo.tokens["bootstrap"], user="alice", role="sales")
        rep.pull_all()
        confirmed = sorted(pk for (table, pk), cells in rep.seen.items()
                           if table == "sales_order" and cells.get("status") == "confirmed")
        rep.write("sales_order", confirmed[0], {"status": "draft"})
    with demo.login() as c:
        conflicts = c.get("/backoffice/sync").text.split('id="conflicts"')[1].split("</table>")[0]
    assert "alice" in conflicts and ">draft<" in conflicts and ">confirmed<" in conflicts


def test_revoking_an_unknown_device_is_a_404_page_not_a_500(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/sync/devices/not-a-uuid/revoke", headers={"HX-Request": "true"})
        assert r.status_code == 404 and "no device" in r.text


def test_master_data_lists_show_demo_rows(demo: Demo) -> None:
    with demo.login() as c:
        pages = {kind: _text(c.get(f"/backoffice/master/{kind}").text)
                 for kind in ("products", "customers", "suppliers", "price-agreements", "warehouses")}
    assert "FG-DESK-140" in pages["products"] and "Office desk 140×70" in pages["products"]
    assert "Brightline Consulting BV" in pages["customers"]
    assert "宁波佳力传动有限公司" in pages["suppliers"]
    assert "RM-TUBE-60" in pages["price-agreements"] and "3.95" in pages["price-agreements"]
    assert "City depot, Rotterdam 城市仓" in pages["warehouses"]


def test_quantity_breaks_are_listed_by_quantity_not_as_text(demo: Demo) -> None:
    with demo.login() as c:
        html = c.get("/backoffice/master/price-agreements", params={"q": "RM-SCREW-M6"}).text
    breaks = re.findall(r"<td class=\"n\">(\d+)</td>\s*<td class=\"n\">0\.0\d+</td>", html)
    assert breaks[:3] == ["1", "5000", "20000"], breaks


def test_the_filter_narrows_a_list_and_htmx_gets_only_the_rows(demo: Demo) -> None:
    with demo.login() as c:
        r = c.get("/backoffice/master/products", params={"q": "chair"},
                  headers={"HX-Request": "true", "HX-Target": "rows"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="rows">')
    assert "FG-CHAIR-ERG" in r.text and "FG-DESK-140" not in r.text


def test_long_lists_come_in_pages_of_fifty(demo: Demo) -> None:
    rows = [{"code": f"ZP{i:03d}", "name": f"Paging supplier {i}"} for i in range(70)]
    with httpx.Client(base_url=demo.url, timeout=30) as api:
        r = api.post("/api/v1/master/suppliers", json={"rows": rows},
                     headers={"Authorization": f"Bearer {demo.tokens['bootstrap']}"})
        assert r.status_code == 200, r.text
    with demo.login() as c:
        first = c.get("/backoffice/master/suppliers", params={"q": "paging supplier"}).text
        second = c.get("/backoffice/master/suppliers", params={"q": "paging supplier", "page": 2}).text
    assert first.count("Paging supplier") == 50 and "Next" in first and "Previous" not in first
    assert second.count("Paging supplier") == 20 and "Previous" in second and "Next" not in second
    assert "ZP000" in first and "ZP069" in second


def test_a_product_shows_its_bom_through_all_levels_and_its_stock(demo: Demo) -> None:
    with demo.login() as c:
        text = _text(c.get("/backoffice/master/product/FG-DESK-140").text)
        missing = c.get("/backoffice/master/product/NO-SUCH-SKU")
    assert "SA-TOP-140" in text and "RM-SCREW-M6" in text and "WH1" in text
    assert missing.status_code == 404 and "There is no product" in missing.text


def test_an_unknown_list_or_bad_page_number_is_a_4xx_page(demo: Demo) -> None:
    with demo.login() as c:
        assert c.get("/backoffice/master/nope").status_code == 404
        for path in ("/backoffice/nope", "/backoffice/sync/nope/deeper"):
            r = c.get(path)
            assert r.status_code == 404 and "text/html" in r.headers["content-type"]
            assert "There is no such page in the back office" in r.text
        assert c.get("/backoffice/static/htmx.min.js").status_code == 200  # the catch-all hides nothing
        r = c.get("/backoffice/master/products", params={"page": "x"})
        assert r.status_code == 400 and "text/html" in r.headers["content-type"]


def test_running_mrp_from_the_page_keeps_a_run_with_its_planned_orders(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/planning/runs", data={"today": "2026-12-01"})
        assert r.status_code == 303
        run = _text(c.get(r.headers["location"]).text)
        assert "Planned orders" in run and "FG-DESK-160E" in run
        only = _text(c.get(r.headers["location"], params={"q": "desk-160"}).text)
        assert "FG-DESK-160E" in only and "FG-CHAIR-ERG" not in only
        r2 = c.post("/backoffice/planning/runs", data={"today": "2026-12-02"})
        a, b = r.headers["location"].rsplit("/", 1)[1], r2.headers["location"].rsplit("/", 1)[1]
        cmp = _text(c.get("/backoffice/planning/compare", params={"a": a, "b": b}).text)
        assert "Compare two MRP runs" in cmp and "2026-12-02" in cmp
        listing = c.get("/backoffice/planning").text
        assert a in listing and b in listing
        allocation = c.get(f"/backoffice/planning/runs/{a}/allocation")
        assert allocation.status_code == 200 and 'id="allocation"' in allocation.text
        assert "PT-CASTOR" in allocation.text and "S02" in allocation.text  # chosen over the dearer S01
        assert c.get("/backoffice/planning/runs/nope/allocation").status_code == 404


def test_a_bad_planning_day_rerenders_the_form_with_a_message(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/planning/runs", data={"today": "31/12/2026"})
        assert r.status_code == 400 and "YYYY-MM-DD" in r.text
        assert c.get("/backoffice/planning/runs/nope").status_code == 404
        assert c.get("/backoffice/planning/compare", params={"a": "x"}).status_code == 400


def test_the_kitting_check_shows_buildable_units_and_what_runs_out(demo: Demo) -> None:
    with demo.login() as c:
        r = c.get("/backoffice/planning/kitting", params={"sku": "FG-DESK-140", "warehouse": "WH1",
                                                          "by": "2026-12-31"})
        assert r.status_code == 200
        assert 'id="kit-figures"' in r.text and "Buildable by" in r.text
        api = c.get("/api/v1/planning/kitting", params={"sku": "FG-DESK-140", "warehouse": "WH1", "by": "2026-12-31"},
                    headers={"Authorization": f"Bearer {demo.tokens['bootstrap']}", "Accept": "application/json"}).json()
        figures = re.findall(r'<div class="big">([^<]+)</div>', r.text)
        assert figures == [api["on_hand"], api["available"], api["buildable"], api["buildable_by"],
                           f"+{api['extra_by']}", api["incoming_by"]]
        bad = c.get("/backoffice/planning/kitting", params={"sku": "NOPE", "warehouse": "WH1"})
        assert bad.status_code == 404 and "no product" in bad.text


def test_a_refusal_on_a_chinese_page_says_what_kind_in_chinese_and_keeps_the_specifics(demo: Demo) -> None:
    with demo.login(lang="zh") as c:
        bought = c.get("/backoffice/planning/kitting", params={"sku": "RM-TUBE-60", "warehouse": "WH1"})
        assert bought.status_code == 400 and "只有自制物料才能做齐套分析" in bought.text and "RM-TUBE-60" in bought.text
        missing = c.get("/backoffice/planning/kitting", params={"sku": "NOPE", "warehouse": "WH1"})
        assert missing.status_code == 404 and "没有此物料" in missing.text and "NOPE" in missing.text
    with demo.login() as c:  # an English page says the service's sentence alone
        bought = c.get("/backoffice/planning/kitting", params={"sku": "RM-TUBE-60", "warehouse": "WH1"})
        assert "only make products are kitted" in bought.text and "只有" not in bought.text


def test_ticked_sales_orders_get_production_orders_and_move_to_scheduled(demo: Demo) -> None:
    with demo.login() as c:
        listed = c.get("/backoffice/orders").text
        numbers = re.findall(r'name="order" value="([^"]+)"', listed)
        assert len(numbers) >= 2
        chosen = numbers[-2:]  # the latest due: no other test of the module schedules them
        r = c.post("/backoffice/orders/production", data={"order": chosen, "combine": "1"})
        assert r.status_code == 200, r.text
        assert "Production orders just created" in r.text and "PO-MFG-" in r.text
        still_open = re.findall(r'name="order" value="([^"]+)"', r.text)
        assert not set(chosen) & set(still_open)
        again = c.post("/backoffice/orders/production", data={"order": chosen})
        assert again.status_code == 409 and "scheduled" in again.text
    statuses = _order_statuses_as_pulled(demo)
    assert all(statuses[n] == "scheduled" for n in chosen), statuses


def _order_statuses_as_pulled(demo: Demo) -> dict[str, str]:
    """Sales order number -> status as a back-office device pulls them (JSON API), which is what
    a rep's phone would read next."""
    cells: dict[str, dict[str, object]] = {}
    cursor: str | None = None
    with httpx.Client(base_url=demo.url, timeout=30) as api:
        while True:
            params: dict[str, str | int] = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
            page = api.get("/api/v1/sync/pull", params=params,
                           headers={"Authorization": f"Bearer {demo.tokens['backoffice']}",
                                    "Accept": "application/json"}).json()
            for ch in page["changes"]:
                if ch["table"] == "sales_order":
                    cells.setdefault(ch["pk"], {}).update(ch["vals"])
            cursor = page["cursor"]
            if not page["more"]:
                break
    return {str(v.get("number")): str(v.get("status")) for v in cells.values()}


def test_creating_production_with_nothing_ticked_says_so(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/orders/production", data={})
        assert r.status_code == 400 and "Tick at least one" in r.text


def test_static_htmx_is_served_locally(demo: Demo) -> None:
    with demo.client() as c:
        r = c.get("/backoffice/static/htmx.min.js")
        assert r.status_code == 200 and "htmx" in r.text[:2000]


BAD_REQUESTS = [
    ("GET", "/backoffice/master/products?page=0", None),
    ("GET", "/backoffice/master/products?page=-3", None),
    ("GET", "/backoffice/master/products?page=99999999999999999999", None),
    ("GET", "/backoffice/master/products?q=" + "x" * 101, None),
    ("GET", "/backoffice/master/product/%00", None),
    ("GET", "/backoffice/planning/kitting?sku=FG-DESK-140&warehouse=NOPE", None),
    ("GET", "/backoffice/planning/kitting?sku=FG-DESK-140&warehouse=WH1&by=2026-13-45", None),
    ("GET", "/backoffice/planning/kitting?sku=%00&warehouse=WH1", None),
    ("GET", "/backoffice/planning/kitting?sku=RM-TUBE-60&warehouse=WH1", None),
    ("GET", "/backoffice/planning/compare?a=x&b=y", None),
    ("GET", "/backoffice/planning/runs/" + "z" * 300, None),
    ("POST", "/backoffice/planning/runs", {"today": "9999-12-31"}),
    ("POST", "/backoffice/planning/runs", {"today": ""}),
    ("POST", "/backoffice/orders/production", {"order": "NO-SUCH-ORDER"}),
    ("POST", "/backoffice/orders/production", {"order": "x" * 5000}),
    ("POST", "/backoffice/login", {"token": "t" * 300}),
    ("POST", "/backoffice/sync/devices/" + "0" * 36 + "/revoke", {}),
    ("GET", "/backoffice/procurement/scorecards?from=1900-01-01&to=2030-01-01", None),
    ("GET", "/backoffice/procurement/scorecards?from=2026-02-30", None),
    ("POST", "/backoffice/procurement/requisitions/from-run", {"run_id": "nope"}),
    ("POST", "/backoffice/procurement/requisitions/PR-NOPE/approve", {}),
    ("POST", "/backoffice/orders/production", {"order": "SO-26101\x00"}),
    ("POST", "/backoffice/procurement/requisitions/from-run", {"run_id": "\x00"}),
    ("GET", "/backoffice/planning/runs/%00", None),
    ("GET", "/backoffice/planning/compare?a=%00&b=x", None),
    ("GET", "/backoffice/procurement/requisitions/PR%00", None),
    ("POST", "/backoffice/login", {"token": "\x00"}),
]


def test_malformed_input_gets_a_4xx_page_with_a_message_never_a_500(demo: Demo) -> None:
    with demo.login() as c:
        for method, path, form in BAD_REQUESTS:
            r = c.request(method, path, data=form)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:300])
            assert "text/html" in r.headers["content-type"], (path, r.headers["content-type"])
            assert 'class="msg error"' in r.text, (path, r.text[:300])


def _new_code(demo: Demo, role: str) -> str:
    body: dict[str, str] = {"role": role, "user": f"{role}-{uuid.uuid4().hex[:6]}"}
    with demo.client(headers={"Authorization": f"Bearer {demo.tokens['bootstrap']}"}) as c:
        r = c.post("/api/v1/devices", json=body)
        assert r.status_code in (200, 201), r.text
        return str(r.json()["enrolment_code"])


def test_a_backoffice_enrolment_code_signs_in_once_and_shows_its_token_once(demo: Demo) -> None:
    code = _new_code(demo, "backoffice")
    with demo.client() as c:
        r = c.post("/backoffice/login", data={"token": code.lower().replace("-", " ")})
        assert r.status_code == 200 and "fs_session=" in r.headers["set-cookie"]
        token = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
        assert token is not None
        assert "Signed in as" in c.get("/backoffice/sync").text
    with demo.client() as c:  # the token shown signs in again; the spent code does not
        assert c.post("/backoffice/login", data={"token": token.group(1)}).status_code == 303
        again = c.post("/backoffice/login", data={"token": code})
        assert again.status_code == 401 and "unknown, used or expired" in again.text


def test_a_sales_enrolment_code_is_refused_and_left_for_its_phone(demo: Demo) -> None:
    code = _new_code(demo, "sales")
    with demo.client() as c:
        r = c.post("/backoffice/login", data={"token": code})
        assert r.status_code == 403 and "for a sales device" in r.text
        assert "fs_session" not in r.headers.get("set-cookie", "")
        enrolled = c.post("/api/v1/devices/enrol", json={"enrolment_code": code})
        assert enrolled.status_code in (200, 201) and enrolled.json()["role"] == "sales"
