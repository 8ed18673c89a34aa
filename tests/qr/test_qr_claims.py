"""Claiming by QR scan (SPEC §4): every outcome, nothing written on refusal, and contention."""

import datetime as dt
import io
import threading

import pytest

from backend.tasks.models import StoreTask
from qr import tokens


def qr_token(client, w, task_id):
    response = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"])
    assert response.status_code == 200, response.json
    return response.json["token"]


def claim(client, headers, token, **extra):
    return client.post("/api/v1/claims", json={"qr_token": token, **extra}, headers=headers)


def test_claim_then_rescan_is_idempotent(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    token = qr_token(client, w, task_id)
    scanned = "2026-11-11T09:30:00+08:00"
    first = claim(client, w.h["clerk1"], token, client_id="phone-1", scanned_at=scanned)
    assert first.status_code == 201, first.json
    assert first.json["created"] is True and first.json["task"]["status"] == "claimed"
    assert [c["username"] for c in first.json["task"]["claimants"]] == ["clerk1"]
    again = claim(client, w.h["clerk1"], token, client_id="phone-1")
    assert again.status_code == 200 and again.json["created"] is False
    assert again.json["claimed_at"] == first.json["claimed_at"]
    history = client.get(f"/api/v1/tasks/{task_id}?include=history", headers=w.h["clerk1"]).json["history"]
    assert [e["action"] for e in history] == ["claimed"]
    assert history[0]["client_id"] == "phone-1"
    assert dt.datetime.fromisoformat(history[0]["client_time"]) == dt.datetime.fromisoformat(scanned)


def test_every_bad_token_gets_its_error_and_writes_nothing(make, client, app):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    token = qr_token(client, w, task_id)
    other_key = tokens.parse_keyring("9:someone-elses-key-000")
    claims = tokens.verify(token, tokens.derived_keyring(app.config["SECRET_KEY"]),
                           dt.datetime.now(dt.timezone.utc))
    resigned = tokens.sign(claims, other_key)
    s2_token = qr_token(client, w, make.task_id(w.campaign.id, w.s2))
    sup_token = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["sup_east"]).json["token"]
    assert sup_token == token  # the same code whoever prints it
    before = make.row_counts()
    cases = [
        (w.h["clerk1"], "ZD1:" + "Q" * 53, 400, "invalid_qr"),   # random bytes
        (w.h["clerk1"], token[:30], 400, "invalid_qr"),           # truncated
        (w.h["clerk1"], resigned, 400, "invalid_qr"),             # re-signed with another key
        (w.h["clerk1"], "hello", 400, "invalid_qr"),
        (w.h["clerk1"], s2_token, 403, "wrong_store"),            # another store's task
        (w.h["clerk2"], sup_token, 403, "wrong_store"),           # supervisor's printout, wrong clerk
    ]
    for headers, bad, status, error in cases:
        response = claim(client, headers, bad)
        assert (response.status_code, response.json["error"]) == (status, error), (bad, response.json)
    for role in ("admin", "sup_east"):
        assert claim(client, w.h[role], token).json["error"] == "forbidden_role"
    assert make.row_counts() == before


def test_expired_and_revoked_codes(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    old = qr_token(client, w, task_id)
    rotated = client.post(f"/api/v1/tasks/{task_id}/qr/rotate", headers=w.h["sup_east"])
    assert rotated.status_code == 200 and rotated.json["token"] != old
    before = make.row_counts()
    revoked = claim(client, w.h["clerk1"], old)
    assert (revoked.status_code, revoked.json["error"]) == (410, "qr_revoked")
    assert make.row_counts() == before
    task = make.session.get(StoreTask, task_id)
    task.due_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)
    make.session.commit()
    expired_token = qr_token(client, w, task_id)
    before = make.row_counts()
    expired = claim(client, w.h["clerk1"], expired_token)
    assert (expired.status_code, expired.json["error"]) == (410, "qr_expired")
    assert make.row_counts() == before
    task.due_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    make.session.commit()
    assert claim(client, w.h["clerk1"], qr_token(client, w, task_id)).status_code == 201


def test_capacity_and_unclaimable_states(make, client):
    w = make.world()
    single = make.task_id(w.campaign.id, w.s1)
    token = qr_token(client, w, single)
    assert claim(client, w.h["clerk1"], token).status_code == 201
    taken = claim(client, w.h["clerk1b"], token)
    assert taken.status_code == 409 and taken.json["error"] == "task_already_claimed"
    assert taken.json["held_by"][0]["username"] == "clerk1" and taken.json["since"]
    cancelled = make.task_id(w.campaign.id, w.s3)
    client.post(f"/api/v1/tasks/{cancelled}/cancel", json={}, headers=w.h["admin"])
    refused = claim(client, w.h["clerk3"], qr_token(client, w, cancelled))
    assert refused.status_code == 409 and refused.json["error"] == "task_not_claimable"
    assert refused.json["current_status"] == "cancelled"
    client.post(f"/api/v1/campaigns/{w.campaign.id}/close", headers=w.h["admin"])
    price = make.task_id(w.campaign.id, w.s1, "Price check")
    closed = claim(client, w.h["clerk1b"], qr_token(client, w, price))
    assert closed.status_code == 409 and closed.json["campaign_status"] == "closed"


def test_qr_images_and_scope(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    png = client.get(f"/api/v1/tasks/{task_id}/qr.png", headers=w.h["sup_east"])
    assert png.status_code == 200 and png.mimetype == "image/png"
    import zxingcpp
    from PIL import Image
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))]
    assert decoded == [qr_token(client, w, task_id)]
    svg = client.get(f"/api/v1/tasks/{task_id}/qr.svg", headers=w.h["admin"])
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["sup_north"]).json["error"] == "out_of_scope"
    assert client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["clerk1"]).json["error"] == "forbidden_role"


def test_printed_pdf_sheet_code_claims_the_task(make, client):
    """The acceptance path: HQ prints the sheet, the clerk scans a code off the paper."""
    import pypdfium2
    import zxingcpp
    w = make.world()
    sheet = client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet?store=S001&format=pdf",
                       headers=w.h["admin"])
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
    pdf = pypdfium2.PdfDocument(sheet.data)
    assert len(pdf) == 1
    codes = {r.text for r in zxingcpp.read_barcodes(pdf[0].render(scale=3).to_pil())}
    expected = {qr_token(client, w, make.task_id(w.campaign.id, w.s1, title))
                for title in ("Display", "Price check")}
    assert codes == expected
    for code in codes:
        assert claim(client, w.h["clerk1"], code).status_code == 201
    everyone = client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet", headers=w.h["admin"])
    assert len(pypdfium2.PdfDocument(everyone.data)) == 3  # one page per store
    east = client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet", headers=w.h["sup_east"])
    assert len(pypdfium2.PdfDocument(east.data)) == 2      # the supervisor's stores only
    png = client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet?store=S002&format=png",
                     headers=w.h["admin"])
    assert png.mimetype == "image/png"
    from PIL import Image
    assert len(zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))) == 2
    assert client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet?store=S002",
                      headers=w.h["sup_east"]).json["error"] == "out_of_scope"
    assert client.get(f"/api/v1/campaigns/{w.campaign.id}/qr-sheet?format=png",
                      headers=w.h["admin"]).status_code == 422


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_scans_never_exceed_max_claimants(make, app, round_):
    """Many phones scan the same code at once: exactly max_claimants win, the rest get 409."""
    region = make.region("EAST")
    store = make.store("S001", region)
    admin = make.user("admin", "hq_admin")
    clerks = [make.user(f"clerk{i:02d}", store=store) for i in range(12)]
    make.product("LIP-01")
    campaign = make.campaign(admin, "RUSH", targeting={"stores": ["S001"]},
                             tasks=[{"title": "Rush", "max_claimants": 3}])
    task_id = make.task_id(campaign.id, store, "Rush")
    headers = [make.headers(clerk) for clerk in clerks]
    token = app.test_client().get(f"/api/v1/tasks/{task_id}/qr", headers=make.headers(admin)).json["token"]
    barrier = threading.Barrier(len(clerks))
    results = [None] * len(clerks)

    def scan(index):
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/claims", json={"qr_token": token}, headers=headers[index])
        results[index] = (response.status_code, response.json.get("error"))

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(len(clerks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(code for code, _ in results) == [201] * 3 + [409] * 9, results
    assert {error for code, error in results if code == 409} == {"task_already_claimed"}
    make.session.expire_all()
    task = make.session.get(StoreTask, task_id)
    assert task.claimant_count == 3 and len(task.claims) == 3
    make.session.commit()


# ---- typed short codes (the camera cannot read the QR) ------------------------------------------

def qr_of(client, w, task_id):
    response = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"])
    assert response.status_code == 200, response.json
    return response.json


def test_short_code_claims_like_the_qr(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    code = qr_of(client, w, task_id)["short_code"]
    typed = code.lower().replace("-", " ")
    first = client.post("/api/v1/claims", json={"short_code": typed, "client_id": "phone-1"},
                        headers=w.h["clerk1"])
    assert first.status_code == 201, first.json
    assert first.json["task"]["id"] == task_id and first.json["task"]["status"] == "claimed"
    again = client.post("/api/v1/claims", json={"short_code": code}, headers=w.h["clerk1"])
    assert again.status_code == 200 and again.json["created"] is False


def test_bad_short_codes_write_nothing(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    code = qr_of(client, w, task_id)["short_code"]
    s2_code = qr_of(client, w, make.task_id(w.campaign.id, w.s2))["short_code"]
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    before = make.row_counts()
    cases = [
        ({"short_code": flipped}, w.h["clerk1"], 400, "invalid_qr"),
        ({"short_code": "ZZZZ"}, w.h["clerk1"], 400, "invalid_qr"),
        ({"short_code": s2_code}, w.h["clerk1"], 403, "wrong_store"),
        ({}, w.h["clerk1"], 422, "validation_error"),
        ({"short_code": code, "qr_token": qr_of(client, w, task_id)["token"]}, w.h["clerk1"], 422,
         "validation_error"),
    ]
    for body, headers, status, error in cases:
        response = client.post("/api/v1/claims", json=body, headers=headers)
        assert (response.status_code, response.json["error"]) == (status, error), (body, response.json)
    assert make.row_counts() == before
    rotated = client.post(f"/api/v1/tasks/{task_id}/qr/rotate", headers=w.h["admin"])
    assert rotated.json["short_code"] != code
    stale = client.post("/api/v1/claims", json={"short_code": code}, headers=w.h["clerk1"])
    assert (stale.status_code, stale.json["error"]) == (400, "invalid_qr")
    fresh = client.post("/api/v1/claims", json={"short_code": rotated.json["short_code"]},
                        headers=w.h["clerk1"])
    assert fresh.status_code == 201, fresh.json


@pytest.mark.parametrize("round_", range(2))
def test_one_clerk_scanning_from_several_phones_at_once_claims_once(make, app, round_):
    """The same clerk's simultaneous scans: one claim (201), the others are re-scans (200),
    never a 500 and never a second place taken."""
    region = make.region("EAST")
    store = make.store("S001", region)
    admin = make.user("admin", "hq_admin")
    clerk = make.user("clerk01", store=store)
    make.product("LIP-01")
    campaign = make.campaign(admin, "RUSH", targeting={"stores": ["S001"]},
                             tasks=[{"title": "Rush", "max_claimants": 3}])
    task_id = make.task_id(campaign.id, store, "Rush")
    headers = make.headers(clerk)
    token = app.test_client().get(f"/api/v1/tasks/{task_id}/qr", headers=make.headers(admin)).json["token"]
    phones = 6
    barrier = threading.Barrier(phones)
    results = [None] * phones

    def scan(index):
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1/claims", json={"qr_token": token, "client_id": f"phone-{index}"},
                               headers=headers)
        results[index] = response.status_code

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(phones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [200] * (phones - 1) + [201], results
    make.session.expire_all()
    task = make.session.get(StoreTask, task_id)
    assert task.claimant_count == 1 and len(task.claims) == 1
    make.session.commit()
