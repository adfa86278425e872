"""Procurement in the back office over real HTTP: requisitions made from an MRP run, approved into
purchase orders, the purchase orders, and supplier scorecards, on the demo company."""

from __future__ import annotations

import re

from tests.web.conftest import Demo


def test_requisitions_from_a_run_are_listed_and_one_is_approved_into_purchase_orders(demo: Demo) -> None:
    with demo.login() as c:
        run = c.post("/backoffice/planning/runs", data={"today": "2026-12-01"}).headers["location"]
        run_id = run.rsplit("/", 1)[1]
        r = c.post("/backoffice/procurement/requisitions/from-run", data={"run_id": run_id})
        assert r.status_code == 200 and "draft requisition" in r.text
        drafts = re.findall(r'action="/backoffice/procurement/requisitions/([^"/]+)/approve"', r.text)
        assert drafts and "S02" in r.text
        number = drafts[0]
        detail = c.get(f"/backoffice/procurement/requisitions/{number}")
        assert detail.status_code == 200 and 'id="lines"' in detail.text
        approved = c.post(f"/backoffice/procurement/requisitions/{number}/approve")
        assert approved.status_code == 200 and f"Approved {number}" in approved.text
        po_numbers = re.findall(r"purchase orders ([^<.]+)\.", approved.text)[0].split(", ")
        again = c.post(f"/backoffice/procurement/requisitions/{number}/approve")
        assert again.status_code == 409
        twice = c.post("/backoffice/procurement/requisitions/from-run", data={"run_id": run_id})
        assert twice.status_code == 409 and "already gave requisitions" in twice.text
        orders = c.get("/backoffice/procurement/purchase-orders").text
    assert all(n in orders for n in po_numbers) and "PO-7001" in orders  # the imported order too


def test_making_requisitions_without_a_run_says_what_to_do(demo: Demo) -> None:
    with demo.login() as c:
        r = c.post("/backoffice/procurement/requisitions/from-run", data={})
        assert r.status_code == 400 and "Choose an MRP run" in r.text
        assert c.get("/backoffice/procurement/requisitions/PR-999999").status_code == 404


def test_scorecards_list_the_suppliers_with_lines_due_in_the_window(demo: Demo) -> None:
    with demo.login(lang="zh") as c:
        r = c.get("/backoffice/procurement/scorecards", params={"from": "2026-01-01", "to": "2027-06-30"})
        assert r.status_code == 200 and "供应商评分" in r.text
        assert "宁波佳力传动有限公司" in r.text and "Staalhandel Brabant BV" in r.text
        bad = c.get("/backoffice/procurement/scorecards", params={"from": "2027-01-01", "to": "2026-01-01"})
        assert bad.status_code == 400
        assert c.get("/backoffice/procurement/scorecards", params={"to": "soon"}).status_code == 400
