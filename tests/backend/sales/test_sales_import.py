"""POS sales import: per-line errors, unknown codes counted, idempotent re-import, streaming CLI."""

import pytest
from sqlalchemy import select

from backend.catalog.models import Product
from backend.org.models import Store
from backend.sales.models import SalesLine

CSV = """transaction_id,store_code,sku,quantity,sold_at
T1,S001,LIP-01,1,2026-11-11T10:05:00+08:00
T1,S001,LIP-02,2,2026-11-11T10:05:00+08:00
T2,S002,LIP-01,1,2026-11-11T11:00:00+08:00
T3,S999,LIP-01,1,2026-11-11T11:00:00+08:00
T4,S001,NOPE,1,2026-11-11T11:00:00+08:00
T5,S001,LIP-01,0,2026-11-11T11:00:00+08:00
T6,S001,LIP-01,1,2026-11-11 11:00
"""


def test_import_reports_lines_and_is_idempotent(make, client):
    w = make.world()
    first = client.post("/api/v1/sales/import", data=CSV.encode(), content_type="text/csv",
                        headers=w.h["admin"])
    assert first.status_code == 200, first.json
    assert {k: first.json[k] for k in ("lines", "imported", "duplicates", "rejected")} == {
        "lines": 7, "imported": 3, "duplicates": 0, "rejected": 4}
    assert first.json["unknown_stores"] == {"S999": 1} and first.json["unknown_skus"] == {"NOPE": 1}
    assert set(first.json["errors"]) == {"line 5", "line 6", "line 7", "line 8"}
    assert "timezone" in first.json["errors"]["line 8"][0]
    again = client.post("/api/v1/sales/import", data=CSV.encode(), content_type="text/csv",
                        headers=w.h["admin"]).json
    assert (again["imported"], again["duplicates"]) == (0, 3)
    assert make.count(SalesLine) == 3


def test_import_refuses_bad_files_and_roles(make, client):
    w = make.world()
    no_header = client.post("/api/v1/sales/import", data=b"a,b\n1,2\n", content_type="text/csv",
                            headers=w.h["admin"])
    assert no_header.status_code == 422 and no_header.json["error"] == "invalid_csv"
    broken = client.post("/api/v1/sales/import", content_type="text/csv", headers=w.h["admin"],
                         data=("transaction_id,store_code,sku,quantity,sold_at\nT1,S001,LIP-01,1,"
                               + "x" * 140_000 + "\n").encode())
    assert broken.status_code == 422
    assert client.post("/api/v1/sales/import", data=CSV.encode(), content_type="text/csv",
                       headers=w.h["sup_east"]).status_code == 403
    assert make.count(SalesLine) == 0


def test_cli_streams_a_file_with_progress(make, runner, tmp_path):
    make.world()
    path = tmp_path / "sales.csv"
    lines = ["transaction_id,store_code,sku,quantity,sold_at"]
    lines += [f"T{i},S00{1 + i % 3},LIP-0{1 + i % 2},1,2026-11-11T10:00:00+08:00" for i in range(12_000)]
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(args=["sales", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "12000 lines: 12000 imported, 0 already there, 0 rejected" in result.output
    assert make.count(SalesLine) == 12_000
    again = runner.invoke(args=["sales", "import", str(path)])
    assert "0 imported, 12000 already there" in again.output


def test_a_receipt_is_its_store_and_transaction(make, client, runner):
    """The same transaction id in two stores is two receipts: no line is lost as a duplicate,
    and training sees two baskets."""
    w = make.world()
    make.product("TOOL-01", category="tools")
    csv_text = ("transaction_id,store_code,sku,quantity,sold_at\n"
                "T1,S001,LIP-01,1,2026-11-11T10:05:00+08:00\n"
                "T1,S001,LIP-02,1,2026-11-11T10:05:00+08:00\n"
                "T1,S002,LIP-01,2,2026-11-11T12:00:00+08:00\n"
                "T1,S002,TOOL-01,1,2026-11-11T12:00:00+08:00\n"
                "T1,S002,TOOL-01,1,2026-11-11T12:00:00+08:00\n")  # repeated within the file
    answer = client.post("/api/v1/sales/import", data=csv_text.encode(), content_type="text/csv",
                         headers=w.h["admin"]).json
    assert {k: answer[k] for k in ("lines", "imported", "duplicates", "rejected")} == {
        "lines": 5, "imported": 4, "duplicates": 1, "rejected": 0}
    lines = make.session.execute(select(Store.code, SalesLine.transaction_id, Product.sku,
                                        SalesLine.quantity)
                                 .join(Store, Store.id == SalesLine.store_id)
                                 .join(Product, Product.id == SalesLine.product_id)
                                 .order_by(Store.code, Product.sku)).all()
    make.session.rollback()  # end the read: SQLite transactions here take the write lock
    assert [tuple(line) for line in lines] == [("S001", "T1", "LIP-01", 1), ("S001", "T1", "LIP-02", 1),
                                               ("S002", "T1", "LIP-01", 2), ("S002", "T1", "TOOL-01", 1)]
    trained = runner.invoke(args=["recommend", "train", "--no-tune"])
    assert trained.exit_code == 0, trained.output
    assert '"transactions": 2' in trained.output


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
def test_a_file_that_is_not_utf8_is_refused_whole(make, client, runner, tmp_path, encoding):
    w = make.world()
    text = CSV.replace("T1,", "Tè1,") + "T9,S001,LIP-01,1,2026-11-11T10:05:00+08:00\n"
    answer = client.post("/api/v1/sales/import", data=text.encode(encoding), content_type="text/csv",
                         headers=w.h["admin"])
    assert answer.status_code == 422, answer.json
    assert answer.json["error"] == "invalid_encoding" and "UTF-8" in answer.json["message"]
    assert make.count(SalesLine) == 0
    path = tmp_path / "sales.csv"
    path.write_bytes(text.encode(encoding))
    result = runner.invoke(args=["sales", "import", str(path)])
    assert result.exit_code != 0 and "not UTF-8" in result.output
    assert make.count(SalesLine) == 0


def test_transaction_ids_round_trip_exactly(make, client):
    w = make.world()
    csv_text = ('transaction_id,store_code,sku,quantity,sold_at\n'
                'T\\1,S001,LIP-01,1,2026-11-11T10:05:00+08:00\n'
                '"T,2",S001,LIP-01,1,2026-11-11T10:05:00+08:00\n'
                '"T\t3",S001,LIP-01,1,2026-11-11T10:05:00+08:00\n')
    answer = client.post("/api/v1/sales/import", data=csv_text.encode(), content_type="text/csv",
                         headers=w.h["admin"]).json
    assert (answer["imported"], answer["rejected"]) == (2, 1)
    assert "printable" in answer["errors"]["line 4"][0]
    ids = sorted(make.session.scalars(select(SalesLine.transaction_id)))
    make.session.rollback()
    assert ids == ["T,2", "T\\1"]
