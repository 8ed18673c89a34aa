"""QR images and printable sheets (qr.render): every code decodes back to its token."""

from __future__ import annotations

import datetime as dt
import io
import random
import xml.etree.ElementTree as ET

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from qr import render
from qr.render import SheetItem, SheetPage

UTC = dt.timezone.utc
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def make_token(rng: random.Random) -> str:
    return "ZD1:" + "".join(rng.choice(BASE32) for _ in range(64))


def make_page(n_items: int, seed: int, store_name: str = "上海万达广场店") -> SheetPage:
    rng = random.Random(seed)
    titles = ["端架陈列 End-cap display", "价签更换 Price tag change",
              "试用装补货 Tester restock and a much longer title that has to be wrapped or cut"]
    items = [
        SheetItem(
            title=titles[i % len(titles)],
            due_at=None if i % 4 == 3 else dt.datetime(2026, 11, 11, 10 + i % 8, 30, tzinfo=UTC),
            token=make_token(rng),
            short_code=f"{i + 1:X}K7M-2QX{i % 10}",
        )
        for i in range(n_items)
    ]
    return SheetPage(store_code=f"S{seed:03d}", store_name=store_name,
                     store_timezone="Asia/Shanghai",
                     campaign_title="双11 口红节 Double-11 Lipstick Festival", items=items)


def decoded(image: Image.Image) -> set[str]:
    return {barcode.text for barcode in zxingcpp.read_barcodes(image)}


def tokens(page: SheetPage) -> set[str]:
    return {item.token for item in page.items}


@pytest.fixture(scope="module")
def two_page_pdf():
    pages = [make_page(3, 1), make_page(12, 2, store_name="北京朝阳大悦城店")]
    return pages, pypdfium2.PdfDocument(render.sheet_pdf(pages))


def test_qr_png_decodes_as_a_small_ec_m_code():
    token = make_token(random.Random(7))
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(render.qr_png(token))))
    assert len(results) == 1
    (barcode,) = results
    assert barcode.text == token
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.ec_level == "M"
    assert int(barcode.extra["Version"]) <= 5  # alphanumeric mode: a 68-char token fits version 4


def test_qr_png_box_size_scales_the_image():
    token = make_token(random.Random(8))
    small = Image.open(io.BytesIO(render.qr_png(token, box_size=2)))
    large = Image.open(io.BytesIO(render.qr_png(token, box_size=8)))
    assert large.size == (small.size[0] * 4, small.size[1] * 4)
    assert small.size[0] == 2 * (33 + 2 * 4)  # version 4 = 33 modules, plus the 4-module quiet zone


def test_qr_svg_is_an_svg_document():
    root = ET.fromstring(render.qr_svg(make_token(random.Random(9))))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_sheet_pdf_has_one_page_per_store(two_page_pdf):
    _, pdf = two_page_pdf
    assert len(pdf) == 2
    width, height = pdf[0].get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 portrait in points


@pytest.mark.parametrize("index", [0, 1])
def test_sheet_pdf_page_decodes_to_its_tokens(two_page_pdf, index):
    pages, pdf = two_page_pdf
    image = pdf[index].render(scale=3).to_pil()
    assert decoded(image) == tokens(pages[index])


@pytest.mark.parametrize("index", [0, 1])
def test_sheet_pdf_text_layer_carries_chinese(two_page_pdf, index):
    if render.cjk_font_path() is None:
        pytest.skip("no TrueType CJK font (apt-get install fonts-wqy-zenhei): the PDF uses "
                    "STSong-Light, whose text layer is not checked")
    pages, pdf = two_page_pdf
    text = pdf[index].get_textpage().get_text_range()
    page = pages[index]
    assert page.store_name in text
    assert page.store_code in text
    assert "双11 口红节" in text
    assert "端架陈列" in text
    assert "截止 Due: 2026-11-11 18:30" in text  # 10:30 UTC in Asia/Shanghai
    if len(page.items) > 3:
        assert "无截止 No due date" in text
    for item in page.items:  # typed when the camera cannot read the code
        assert f"Code: {item.short_code}" in text


def test_sheet_png_is_a4_and_decodes_to_its_tokens():
    page = make_page(20, 3)
    image = Image.open(io.BytesIO(render.sheet_png(page, dpi=150)))
    assert abs(image.width - 210 / 25.4 * 150) <= 2
    assert abs(image.height - 297 / 25.4 * 150) <= 2
    assert decoded(image) == tokens(page)


def test_sheet_png_single_item_at_low_dpi():
    page = make_page(1, 4)
    image = Image.open(io.BytesIO(render.sheet_png(page, dpi=100)))
    assert abs(image.width - 210 / 25.4 * 100) <= 2
    assert decoded(image) == tokens(page)


def test_qr_sizes_are_printable():
    for n, minimum in [(1, 30), (6, 30), (7, 20), (12, 20), (13, 20), (20, 20)]:
        layout = render._layout(n)
        assert len(layout.cells) == n
        assert all(cell.qr.w >= minimum for cell in layout.cells), n
        for cell in layout.cells:  # inside the page, below the header
            assert cell.frame.x >= 0 and cell.frame.x + cell.frame.w <= render.PAGE_W + 1e-9
            assert cell.frame.y > layout.rule_y
            assert cell.frame.y + cell.frame.h <= render.PAGE_H + 1e-9
            assert cell.due_baseline < cell.code_baseline < cell.frame.y + cell.frame.h


def test_long_titles_are_wrapped_then_ellipsised():
    def measure(text, pt):  # every character 1 mm wide
        return float(len(text))

    def fit(text, width):
        return render._fit_lines(text, width, 10, 2, measure)

    assert fit("端架陈列 End-cap display", 10) == ["端架陈列", "End-cap…"]
    assert fit("端架陈列   End-cap", 20) == ["端架陈列 End-cap"]
    assert fit("一二三四五六七八九十一二三四五六七八九十一二三", 10) == ["一二三四五六七八九十", "一二三四五六七八九…"]
    assert fit("Supercalifragilistic", 10) == ["Supercalif", "ragilistic"]


@pytest.mark.parametrize("n", [0, 21])
def test_item_count_out_of_range_is_rejected(n):
    with pytest.raises(ValueError):
        render.sheet_png(make_page(n, 5))


def test_naive_due_date_is_rejected():
    page = make_page(1, 6)
    naive = SheetPage(page.store_code, page.store_name, page.store_timezone, page.campaign_title,
                      [SheetItem("x", dt.datetime(2026, 11, 11, 10, 0), page.items[0].token)])
    with pytest.raises(ValueError):
        render.sheet_png(naive)


@pytest.fixture
def no_cjk_font(monkeypatch):
    """Renders as on a system without a TrueType CJK font (fonts are cached per process)."""
    caches = (render._pdf_font, render._pil_font)
    for cache in caches:
        cache.cache_clear()
    monkeypatch.setattr(render, "cjk_font_path", lambda: None)
    yield
    for cache in caches:
        cache.cache_clear()


def test_without_a_cjk_font_sheets_fall_back_and_still_scan(no_cjk_font):
    page = make_page(7, 10)
    assert render._pdf_font() == "STSong-Light"
    pdf = pypdfium2.PdfDocument(render.sheet_pdf([page]))
    assert decoded(pdf[0].render(scale=3).to_pil()) == tokens(page)
    image = Image.open(io.BytesIO(render.sheet_png(page, dpi=150)))
    assert decoded(image) == tokens(page)
