"""Campaign impact (SPEC §14): figures worked out by hand, nulls with reasons, scope, and the
simulated Double-11 whose true effects the report must recover."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pytest
from sqlalchemy import select

from backend.analytics import did
from backend.catalog.models import Product, ProductPairing
from backend.db import utcnow
from backend.org.models import User
from backend.sales.service import import_sales
from seed import double11

HOUR = dt.timedelta(hours=1)


# ---- the estimator alone --------------------------------------------------------------------

def test_did_of_pooled_ratios_by_hand():
    # Treated: 10/100 before, 30/100 during; control: 10/100 before, 15/100 during.
    treated = [[5, 50, 15, 50], [5, 50, 15, 50]]
    control = [[5, 50, 8, 50], [5, 50, 7, 50]]
    estimate = did.estimate(treated, control, seed=1)
    assert (estimate.treated_before, estimate.treated_during) == (0.1, 0.3)
    assert (estimate.control_before, estimate.control_during) == (0.1, 0.15)
    assert estimate.did == pytest.approx(0.15)
    assert estimate.relative == pytest.approx(0.15 / (0.1 + 0.05))
    assert estimate.ci95 is None and estimate.reason == "too_few_stores_for_interval"


def test_bootstrap_interval_is_reproducible_and_covers_the_estimate():
    rng = np.random.default_rng(3)
    def stores(n, lift):
        before, during = rng.poisson(80, n), rng.poisson(100, n)
        rates = rng.uniform(0.15, 0.25, n)
        return np.c_[rng.binomial(before, rates), before, rng.binomial(during, rates + lift), during]
    treated, control = stores(40, 0.1), stores(40, 0.03)
    first = did.estimate(treated, control, seed=[7, 1])
    again = did.estimate(treated, control, seed=[7, 1])
    assert first.ci95 == again.ci95 and first.resamples_used == did.RESAMPLES
    assert first.ci95[0] < first.did < first.ci95[1]
    assert 0.03 < first.did < 0.11
    other_seed = did.estimate(treated, control, seed=[8, 1])
    assert other_seed.ci95 != first.ci95 and other_seed.did == first.did


def test_no_control_or_no_transactions_is_null_with_a_reason():
    assert did.estimate([[1, 10, 2, 10]], np.zeros((0, 4)), seed=1).reason == "no_control_stores"
    empty = did.estimate([[0, 0, 2, 10]] * 6, [[1, 10, 2, 10]] * 6, seed=1)
    assert empty.did is None and empty.ci95 is None and empty.reason == "no_transactions_in_a_window"


# ---- the endpoint, by hand -----------------------------------------------------------------

def _sales(make, lines: list[tuple[str, str, str, int, dt.datetime]]) -> None:
    text = "transaction_id,store_code,sku,quantity,sold_at\n" + "".join(
        f"{txn},{store},{sku},{quantity},{at.isoformat()}\n" for txn, store, sku, quantity, at in lines)
    result = import_sales(session=make.session, actor=None, stream=io.StringIO(text))
    assert result["rejected"] == 0, result["errors"]


def _small_world(make):
    """D11 reaches S001 only; S003 (same region) and S002 (another) are not reached."""
    w = make.world()
    make.product("CLN-01", category="cleanser", price="89.00")
    lip, cleanser = (make.scalar(select(Product.id).where(Product.sku == sku)) for sku in ("LIP-01", "CLN-01"))
    make.session.add(ProductPairing(product_id=lip, rank=1, paired_product_id=cleanser, score=1.0,
                                    support=3, source="learned"))
    make.session.commit()
    campaign = make.campaign(w.admin, "ONE", featured_skus=["LIP-01"], promo_prices={"LIP-01": 159.0},
                             targeting={"regions": [], "stores": ["S001"], "tags": []})
    now = utcnow()
    before, during = now - dt.timedelta(days=1, hours=12), now - dt.timedelta(hours=12)
    lines = []
    # S001 before: 4 featured transactions, 1 with the partner; during: 4, 3 with it (2 units in one).
    for number, (moment, partner, quantity) in enumerate(
            [(before, True, 1), (before, False, 1), (before, False, 1), (before, False, 1),
             (during, True, 2), (during, True, 1), (during, True, 1), (during, False, 1)]):
        lines.append((f"A{number}", "S001", "LIP-01", quantity, moment))
        if partner:
            lines.append((f"A{number}", "S001", "CLN-01", 1, moment))
    # S003 before: 2, 1 attached; during: 4, 2 attached. S002 sells too, but in another region.
    for number, (moment, partner) in enumerate(
            [(before, True), (before, False), (during, True), (during, True), (during, False),
             (during, False)]):
        lines.append((f"B{number}", "S003", "LIP-01", 1, moment))
        if partner:
            lines.append((f"B{number}", "S003", "CLN-01", 1, moment))
    lines += [("C1", "S002", "LIP-01", 1, before), ("C2", "S002", "LIP-01", 1, during),
              # the cleanser alone, and a transaction of a sold-out window: not featured
              ("D1", "S003", "CLN-01", 1, during), ("E1", "S001", "LIP-01", 1, now - dt.timedelta(days=5))]
    _sales(make, lines)
    return w, campaign


def test_small_campaign_figures_match_hand_computed_values(make, client):
    w, campaign = _small_world(make)
    body = client.get(f"/api/v1/analytics/impact?campaign={campaign.id}", headers=w.h["admin"]).json
    assert body["stores_treated"] == 1 and body["stores_control"] == 1
    assert body["control_selection"]["rule"] == "same_regions"
    assert body["control_selection"]["regions"] == ["EAST"]
    assert body["control_selection"]["candidates"] == 1  # S003; S002 is in NORTH
    attach = body["attach"]
    assert attach["treated"] == {"before": 0.25, "during": 0.75}
    assert attach["control"] == {"before": 0.5, "during": 0.5}
    assert attach["uplift_did"] == 0.5 and attach["naive_uplift"] == 0.5
    assert attach["uplift_relative"] == 2.0  # 0.5 / (0.25 + 0.5 - 0.5)
    assert attach["ci95"] is None and attach["reason"] == "too_few_stores_for_interval"
    assert attach["transactions"] == {"treated": {"before": 4, "during": 4},
                                      "control": {"before": 2, "during": 4}}
    assert attach["attached"] == {"treated": {"before": 1, "during": 3},
                                  "control": {"before": 1, "during": 2}}
    sales = body["featured_sales_per_store"]
    assert sales["treated"] == {"before": 4.0, "during": 5.0}  # one during sale was 2 units
    assert sales["control"] == {"before": 2.0, "during": 4.0}
    assert sales["uplift_did"] == -1.0
    assert body["tasks"]["total"] == 1 and body["completion_rate"] == 0.0
    assert body["on_time_rate"] is None and body["reasons"]["on_time_rate"] == "no_submissions"
    assert [(row["store"], row["group"]) for row in body["stores"]] == [("S001", "treated"),
                                                                       ("S003", "control")]
    assert sum(day["treated"]["transactions"] for day in body["timeline"]) == 8
    assert {day["window"] for day in body["timeline"]} == {"before", "during"}

    exported = client.get(f"/api/v1/analytics/impact?campaign={campaign.id}&format=csv",
                          headers=w.h["admin"])
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(row["store"], row["featured_transactions_during"], row["attached_during"])
            for row in rows] == [("S001", "4", "3"), ("S003", "4", "2")]


def test_control_from_other_regions_when_the_region_has_none(make, client):
    w = make.world()
    campaign = make.campaign(w.admin, "EASTONLY", featured_skus=["LIP-01"],
                             targeting={"regions": ["EAST"], "stores": [], "tags": []})
    now = utcnow()
    _sales(make, [(f"T{n}", store, "LIP-01", 1, now - dt.timedelta(hours=hours))
                  for n, (store, hours) in enumerate([("S001", 30), ("S001", 5), ("S002", 30),
                                                      ("S002", 5), ("S003", 30)])])
    body = client.get(f"/api/v1/analytics/impact?campaign={campaign.id}", headers=w.h["admin"]).json
    assert body["control_selection"]["rule"] == "other_regions"
    assert body["stores_treated"] == 1  # S003 sold nothing during the campaign
    assert body["treated_selection"]["excluded_without_sales_in_both_windows"] == 1
    assert body["stores_control"] == 1
    assert body["attach"]["reason"] == "no_pairings_for_featured_skus"
    assert body["attach"]["uplift_did"] is None
    assert body["featured_sales_per_store"]["uplift_did"] == 0.0


def test_nulls_with_reasons_and_bad_requests(make, client):
    w = make.world()
    now = utcnow()
    _sales(make, [("T1", "S001", "LIP-01", 1, now - 30 * HOUR), ("T2", "S001", "LIP-01", 1, now - HOUR)])
    everywhere = client.get(f"/api/v1/analytics/impact?campaign={w.campaign.id}", headers=w.h["admin"])
    assert everywhere.status_code == 200
    body = everywhere.json
    assert body["stores_control"] == 0 and body["attach"]["reason"] == "no_control_stores"
    assert body["attach"]["uplift_did"] is None and body["attach"]["ci95"] is None
    no_skus = make.campaign(w.admin, "NOSKU")
    assert client.get(f"/api/v1/analytics/impact?campaign={no_skus.id}", headers=w.h["admin"]
                      ).json["attach"]["reason"] == "no_featured_skus"
    assert client.get("/api/v1/analytics/impact", headers=w.h["admin"]).status_code == 422
    assert client.get("/api/v1/analytics/impact?campaign=abc", headers=w.h["admin"]).status_code == 422
    assert client.get("/api/v1/analytics/impact?campaign=1&format=xml", headers=w.h["admin"]).status_code == 422
    assert client.get("/api/v1/analytics/impact?campaign=1&extra=1", headers=w.h["admin"]).status_code == 422
    missing = client.get("/api/v1/analytics/impact?campaign=999999", headers=w.h["admin"])
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    assert client.get(f"/api/v1/analytics/impact?campaign={w.campaign.id}",
                      headers=w.h["clerk1"]).status_code == 403


def test_supervisors_see_their_regions_only(make, client):
    w, campaign = _small_world(make)
    east = client.get(f"/api/v1/analytics/impact?campaign={campaign.id}", headers=w.h["sup_east"]).json
    assert {row["region"] for row in east["stores"]} == {"EAST"}
    north = client.get(f"/api/v1/analytics/impact?campaign={campaign.id}", headers=w.h["sup_north"])
    assert north.status_code == 403 and north.json["error"] == "out_of_scope"


# ---- the simulated Double-11 ---------------------------------------------------------------

def test_double11_report_recovers_the_true_effects_and_the_naive_figure_does_not(app, runner, make, client):
    seeded = runner.invoke(args=["seed", "double11"])
    assert seeded.exit_code == 0, seeded.output
    assert "+6.75 points from the campaign" in seeded.output
    truth = double11.TrueEffects()
    admin = make.scalar(select(User).where(User.username == "admin"))
    headers = make.headers(admin)
    campaign_id = int(seeded.output.split("campaign=")[1].split()[0])
    body = client.get(f"/api/v1/analytics/impact?campaign={campaign_id}", headers=headers).json

    assert body["stores_treated"] == body["stores_control"] == double11.STORES // 2
    assert body["control_selection"]["rule"] == "same_regions"
    assert len(body["control_selection"]["regions"]) == 5
    attach = body["attach"]
    low, high = attach["ci95"]
    assert low <= truth.attach_points <= high
    # The before/after comparison of the targeted stores alone carries the season with it.
    naive = attach["naive_uplift"]
    assert not low <= naive <= high
    assert naive - truth.attach_points > 0.6 * truth.season_attach_points
    assert low > 0  # the campaign did something, and the report can tell
    sales = body["featured_sales_per_store"]
    low, high = sales["ci95"]
    assert low <= truth.featured_units_per_store <= high
    assert not low <= sales["naive_uplift"] <= high
    # Execution went through the task services: most approved, a few late or off price.
    assert body["tasks"]["total"] == double11.STORES
    assert body["completion_rate"] > 0.9 and 0 < body["deviation_rate"] < 0.1
    # Counts behind the figures add up to the per-store table.
    stores = body["stores"]
    treated = [row for row in stores if row["group"] == "treated"]
    assert sum(row["attached_during"] for row in treated) == attach["attached"]["treated"]["during"]
    assert sum(row["featured_transactions_before"] for row in treated) == \
        attach["transactions"]["treated"]["before"]

    # Deterministic: asking again gives the same interval; seeding again adds nothing.
    again = client.get(f"/api/v1/analytics/impact?campaign={campaign_id}", headers=headers).json
    assert again["attach"]["ci95"] == attach["ci95"]
    assert "nothing new" in runner.invoke(args=["seed", "double11"]).output

    supervisor = make.scalar(select(User).where(User.username == "sup_east"))
    east = client.get(f"/api/v1/analytics/impact?campaign={campaign_id}",
                      headers=make.headers(supervisor)).json
    assert {row["region"] for row in east["stores"]} == {"EAST"}
    assert east["stores_treated"] + east["stores_control"] == double11.STORES // 5


def test_the_console_campaign_page_links_to_its_impact_page(make, client):
    from tests.backend.console.test_console import sign_in
    w = make.world()
    sign_in(client, "admin")
    page = client.get(f"/console/campaigns/{w.campaign.id}").get_data(as_text=True)
    assert f'href="/console/campaigns/{w.campaign.id}/impact"' in page
    assert client.get(f"/console/campaigns/{w.campaign.id}/impact").status_code == 200
