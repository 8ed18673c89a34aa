"""Products and their all-or-nothing CSV import."""

from backend.catalog.models import Product

CSV_OK = """sku,name,category,brand,price,attributes
LIP-01,Velvet Lipstick #01 (renamed),lipstick,Acme,219.00,"{""shade"": ""#01""}"
SER-09,精华液 Serum,serum,云杉,680.50,
"""

CSV_BAD = """sku,name,category,brand,price
GOOD-1,Fine,tools,Acme,10
,No sku,tools,Acme,10
BAD-2,Bad price,tools,Acme,ten
GOOD-1,Duplicate,tools,Acme,11
"""


def test_import_creates_and_updates(make, client):
    w = make.world()
    response = client.post("/api/v1/products/import", data=CSV_OK.encode(), content_type="text/csv",
                           headers=w.h["admin"])
    assert response.status_code == 200, response.json
    assert response.json == {"imported": 2, "created": 1, "updated": 1}
    lip = client.get("/api/v1/products/LIP-01", headers=w.h["clerk1"]).json
    assert lip["name"].endswith("(renamed)") and lip["price"] == 219.0 and lip["attributes"] == {"shade": "#01"}
    serum = client.get("/api/v1/products/SER-09", headers=w.h["clerk1"]).json
    assert serum["brand"] == "云杉"


def test_import_reports_every_bad_line_and_writes_nothing(make, client):
    w = make.world()
    before = make.count(Product)
    response = client.post("/api/v1/products/import", data=CSV_BAD.encode(), content_type="text/csv",
                           headers=w.h["admin"])
    assert response.status_code == 422 and response.json["error"] == "invalid_csv"
    assert set(response.json["errors"]) == {"line 3", "line 4", "line 5"}
    assert "price" in response.json["errors"]["line 4"][0]
    assert "duplicate of line 2" in response.json["errors"]["line 5"][0]
    assert make.count(Product) == before


def test_import_as_multipart_and_bad_files(make, client):
    w = make.world()
    import io
    multipart = client.post("/api/v1/products/import", headers=w.h["admin"],
                            data={"file": (io.BytesIO(CSV_OK.encode()), "products.csv")},
                            content_type="multipart/form-data")
    assert multipart.status_code == 200
    no_header = client.post("/api/v1/products/import", data=b"a,b\n1,2\n", content_type="text/csv",
                            headers=w.h["admin"])
    assert no_header.status_code == 422 and "header" in no_header.json["errors"]
    latin = client.post("/api/v1/products/import", data="sku\n\xe9".encode("latin-1"),
                        content_type="text/csv", headers=w.h["admin"])
    assert latin.status_code == 422 and latin.json["error"] == "invalid_encoding"
    json_body = client.post("/api/v1/products/import", json={"sku": "x"}, headers=w.h["admin"])
    assert json_body.status_code == 415


def test_catalog_listing_and_search(make, client):
    w = make.world()
    listing = client.get("/api/v1/products?q=LIP-0", headers=w.h["clerk1"]).json
    assert [p["sku"] for p in listing["items"]] == ["LIP-01", "LIP-02"]
    patched = client.patch("/api/v1/products/LIP-02", json={"price": 99.9}, headers=w.h["admin"])
    assert patched.json["price"] == 99.9
    assert client.get("/api/v1/products/NOPE", headers=w.h["clerk1"]).status_code == 404


def test_import_of_a_large_catalogue(make, client):
    """100,000 rows: more than PostgreSQL's 65,535 bound parameters allow in one statement."""
    w = make.world()
    rows = ["sku,name,category,brand,price"] + [f"BIG-{i:06d},Item {i},c{i % 40},Acme,{1 + i % 90}.50"
                                                for i in range(100_000)]
    body = ("\n".join(rows) + "\n").encode()
    first = client.post("/api/v1/products/import", data=body, content_type="text/csv", headers=w.h["admin"])
    assert first.status_code == 200, first.json
    assert first.json == {"imported": 100_000, "created": 100_000, "updated": 0}
    again = client.post("/api/v1/products/import", data=body.replace(b",Acme,", b",Acme Co,"),
                        content_type="text/csv", headers=w.h["admin"])
    assert again.json == {"imported": 100_000, "created": 0, "updated": 100_000}
    assert make.count(Product) == 100_000 + 2  # the world's two
    last = client.get("/api/v1/products/BIG-099999", headers=w.h["admin"]).json
    assert (last["brand"], last["category"], float(last["price"])) == ("Acme Co", "c39", 1 + 99_999 % 90 + 0.5)
