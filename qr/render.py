"""QR images and printable per-store sheets (SPEC §4): pure rendering, no Flask, no database.

One layout, computed in millimetres from the top-left corner of an A4 page, is drawn by two small
surfaces: reportlab for the PDF, Pillow for the PNG.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

import qrcode
import qrcode.image.svg
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen import canvas

MAX_ITEMS = 20  # a campaign has at most 20 task templates, so a store page never holds more
# FreeType faces are cached and shared; drawing text with them is not thread-safe.
_PNG_LOCK = threading.Lock()


@dataclass(frozen=True)
class SheetItem:
    title: str
    due_at: dt.datetime | None  # timezone-aware; printed in the store's timezone
    token: str  # the QR payload
    short_code: str = ""  # printed under the due line, for typing when a camera cannot read the QR


@dataclass(frozen=True)
class SheetPage:
    store_code: str
    store_name: str
    store_timezone: str  # IANA name, e.g. "Asia/Shanghai"
    campaign_title: str
    items: list[SheetItem]  # 1..MAX_ITEMS tasks


# --- QR codes ------------------------------------------------------------------------------------


def _qr(token: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                         border=4)
    code.add_data(token)  # a str of [0-9A-Z $%*+-./:] is encoded in alphanumeric mode: a small QR
    code.make(fit=True)
    return code


def _qr_image(token: str, box_size: int) -> Image.Image:
    return _qr(token, box_size).make_image().get_image().convert("L")


def qr_png(token: str, *, box_size: int = 8) -> bytes:
    """PNG bytes of the QR code of `token` (error correction M, 4-module quiet zone)."""
    buf = io.BytesIO()
    _qr_image(token, box_size).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def qr_svg(token: str) -> bytes:
    """SVG bytes (a single path) of the QR code of `token`."""
    return _qr(token, 10).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string()


# --- Fonts ---------------------------------------------------------------------------------------

_CJK_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def _has_truetype_outlines(path: str) -> bool:
    """Whether the font's first face has `glyf` outlines: reportlab cannot embed CFF fonts."""
    try:
        with open(path, "rb") as f:
            header = f.read(12)
            if header[:4] == b"ttcf":
                (offset,) = struct.unpack(">I", f.read(4))
                f.seek(offset)
                header = f.read(12)
            (num_tables,) = struct.unpack(">H", header[4:6])
            return any(f.read(16)[:4] == b"glyf" for _ in range(num_tables))
    except (OSError, struct.error):
        return False


def _fontconfig_cjk_fonts() -> list[str]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", "-f", "%{file}\n", ":lang=zh-cn"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """Path of a TrueType-outline font on this system that covers Chinese, or None."""
    for path in (*_CJK_FONT_PATHS, *_fontconfig_cjk_fonts()):
        if os.path.isfile(path) and _has_truetype_outlines(path):
            return path
    return None


@functools.lru_cache(maxsize=1)
def _pdf_font() -> str:
    """The reportlab font, registered once: the CJK TrueType font, else built-in STSong-Light."""
    path = cjk_font_path()
    if path is not None:
        try:
            pdfmetrics.registerFont(TTFont("ZhidaCJK", path, subfontIndex=0))
            return "ZhidaCJK"
        except (TTFError, OSError):
            pass
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


@functools.lru_cache(maxsize=32)
def _pil_font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path()
    if path is not None:
        return ImageFont.truetype(path, size_px, index=0)
    return ImageFont.load_default(size=size_px)  # Latin only: Chinese shows as boxes


# --- Layout (millimetres, origin at the top-left corner of the page) ----------------------------

PAGE_W, PAGE_H = 210.0, 297.0  # A4 portrait
_MARGIN = 12.0
_HEADER_H = 24.0
_CELL_PAD = 3.0
_QR_TEXT_GAP = 1.0
_DUE_GAP = 1.2  # between the title lines and the due line
_PT = 25.4 / 72  # millimetres per point
_LEADING = 1.25
_TITLE_LINES = 2

# (most items, columns, rows, title pt, due pt): the one page shrinks its cells as items grow.
_GRIDS = ((6, 2, 3, 11.0, 9.0), (12, 3, 4, 9.0, 8.0), (MAX_ITEMS, 4, 5, 8.0, 7.0))


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class _Cell:
    frame: _Box
    qr: _Box
    text_x: float  # the text is centred on this vertical line
    text_w: float
    title_baselines: tuple[float, ...]
    due_baseline: float
    code_baseline: float


@dataclass(frozen=True)
class _Layout:
    title_pt: float
    store_pt: float
    title_baseline: float
    store_baseline: float
    rule_y: float
    cell_title_pt: float
    cell_due_pt: float
    cells: tuple[_Cell, ...]


@functools.lru_cache(maxsize=MAX_ITEMS)
def _layout(n_items: int) -> _Layout:
    """The page: a header, then a grid chosen from the item count; each cell a QR over text."""
    if not 1 <= n_items <= MAX_ITEMS:
        raise ValueError(f"a sheet page holds 1..{MAX_ITEMS} items, not {n_items}")
    _, cols, rows, title_pt, due_pt = next(grid for grid in _GRIDS if n_items <= grid[0])
    top = _MARGIN + _HEADER_H
    cell_w = (PAGE_W - 2 * _MARGIN) / cols
    cell_h = (PAGE_H - _MARGIN - top) / rows
    title_lh, due_lh = title_pt * _LEADING * _PT, due_pt * _LEADING * _PT
    text_h = _TITLE_LINES * title_lh + _DUE_GAP + 2 * due_lh
    qr_size = min(cell_w, cell_h - text_h - _QR_TEXT_GAP) - 2 * _CELL_PAD
    cells = []
    for i in range(n_items):
        frame = _Box(_MARGIN + (i % cols) * cell_w, top + (i // cols) * cell_h, cell_w, cell_h)
        qr_box = _Box(frame.x + (cell_w - qr_size) / 2, frame.y + _CELL_PAD, qr_size, qr_size)
        text_top = qr_box.y + qr_size + _QR_TEXT_GAP
        titles = tuple(text_top + k * title_lh + title_pt * _PT for k in range(_TITLE_LINES))
        due = text_top + _TITLE_LINES * title_lh + _DUE_GAP + due_pt * _PT
        text_w = cell_w - 2 * _CELL_PAD
        cells.append(_Cell(frame, qr_box, frame.x + cell_w / 2, text_w, titles, due, due + due_lh))
    return _Layout(
        title_pt=16.0, store_pt=11.0,
        title_baseline=_MARGIN + 16.0 * _PT, store_baseline=_MARGIN + 16.0 * _PT + 8.0,
        rule_y=top - 3.0, cell_title_pt=title_pt, cell_due_pt=due_pt, cells=tuple(cells),
    )


def _fit_lines(text: str, width: float, pt: float, max_lines: int,
               measure: Callable[[str, float], float]) -> list[str]:
    """Wrap at spaces or between CJK characters into at most `max_lines`; ellipsise the rest."""
    def fits(s: str) -> bool:
        return measure(s.rstrip(), pt) <= width

    pieces: list[str] = []
    for token in re.findall(r"[!-~]+\s*|\S\s*", " ".join(text.split())):  # Latin words, CJK chars
        pieces.extend([token] if fits(token) else list(token))
    lines = [""]
    for piece in pieces:
        if fits(lines[-1] + piece):
            lines[-1] += piece
        elif len(lines) < max_lines:
            lines.append(piece)
        else:
            last = lines[-1].rstrip()
            while last and not fits(last + "…"):
                last = last[:-1]
            lines[-1] = last.rstrip() + "…"
            break
    return [line.rstrip() for line in lines]


def _due_text(due_at: dt.datetime | None, timezone: str) -> str:
    if due_at is None:
        return "无截止 No due date"
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    return f"截止 Due: {due_at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M}"


# --- Drawing -------------------------------------------------------------------------------------


class _Surface(Protocol):
    def measure(self, text: str, pt: float) -> float: ...  # width in mm
    def text(self, x: float, baseline: float, text: str, pt: float, *, center: bool = False,
             gray: float = 0.0) -> None: ...
    def line(self, x0: float, y0: float, x1: float, y1: float, gray: float) -> None: ...
    def rect(self, box: _Box, gray: float) -> None: ...
    def qr(self, token: str, box: _Box) -> None: ...


def _draw_page(surface: _Surface, page: SheetPage) -> None:
    layout = _layout(len(page.items))
    width = PAGE_W - 2 * _MARGIN

    def fitted(text: str, pt: float, w: float = width, lines: int = 1) -> list[str]:
        return _fit_lines(text, w, pt, lines, surface.measure)

    surface.text(_MARGIN, layout.title_baseline, fitted(page.campaign_title, layout.title_pt)[0],
                 layout.title_pt)
    store = f"{page.store_code}  {page.store_name}"
    surface.text(_MARGIN, layout.store_baseline, fitted(store, layout.store_pt)[0], layout.store_pt,
                 gray=0.25)
    surface.line(_MARGIN, layout.rule_y, PAGE_W - _MARGIN, layout.rule_y, gray=0.0)
    for item, cell in zip(page.items, layout.cells):
        surface.rect(cell.frame, gray=0.75)
        surface.qr(item.token, cell.qr)
        titles = fitted(item.title, layout.cell_title_pt, cell.text_w, len(cell.title_baselines))
        for baseline, line in zip(cell.title_baselines, titles):
            surface.text(cell.text_x, baseline, line, layout.cell_title_pt, center=True)
        due_pt = layout.cell_due_pt
        due = fitted(_due_text(item.due_at, page.store_timezone), due_pt, cell.text_w)[0]
        surface.text(cell.text_x, cell.due_baseline, due, due_pt, center=True, gray=0.25)
        if item.short_code:
            code = fitted(f"码 Code: {item.short_code}", due_pt, cell.text_w)[0]
            surface.text(cell.text_x, cell.code_baseline, code, due_pt, center=True)


class _PdfSurface:
    def __init__(self, pdf: canvas.Canvas) -> None:
        self.pdf, self.font = pdf, _pdf_font()

    @staticmethod
    def _y(y: float) -> float:
        return (PAGE_H - y) * mm

    def measure(self, text: str, pt: float) -> float:
        return pdfmetrics.stringWidth(text, self.font, pt) / mm

    def text(self, x: float, baseline: float, text: str, pt: float, *, center: bool = False,
             gray: float = 0.0) -> None:
        self.pdf.setFont(self.font, pt)
        self.pdf.setFillGray(gray)
        draw = self.pdf.drawCentredString if center else self.pdf.drawString
        draw(x * mm, self._y(baseline), text)

    def line(self, x0: float, y0: float, x1: float, y1: float, gray: float) -> None:
        self.pdf.setStrokeGray(gray)
        self.pdf.setLineWidth(0.6)
        self.pdf.line(x0 * mm, self._y(y0), x1 * mm, self._y(y1))

    def rect(self, box: _Box, gray: float) -> None:
        self.pdf.setStrokeGray(gray)
        self.pdf.setLineWidth(0.4)
        self.pdf.rect(box.x * mm, self._y(box.y + box.h), box.w * mm, box.h * mm)

    def qr(self, token: str, box: _Box) -> None:
        image = ImageReader(io.BytesIO(qr_png(token, box_size=10)))
        self.pdf.drawImage(image, box.x * mm, self._y(box.y + box.h), box.w * mm, box.h * mm)


class _PngSurface:
    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        self.image = Image.new("L", (self._px(PAGE_W), self._px(PAGE_H)), 255)
        self.draw = ImageDraw.Draw(self.image)

    def _px(self, v: float) -> int:
        return round(v * self.dpi / 25.4)

    def _font(self, pt: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return _pil_font(max(1, round(pt * self.dpi / 72)))

    def measure(self, text: str, pt: float) -> float:
        return self._font(pt).getlength(text) * 25.4 / self.dpi

    def text(self, x: float, baseline: float, text: str, pt: float, *, center: bool = False,
             gray: float = 0.0) -> None:
        self.draw.text((self._px(x), self._px(baseline)), text, font=self._font(pt),
                       fill=round(255 * gray), anchor="ms" if center else "ls")

    def line(self, x0: float, y0: float, x1: float, y1: float, gray: float) -> None:
        width = max(1, round(0.6 * self.dpi / 72))
        self.draw.line([(self._px(x0), self._px(y0)), (self._px(x1), self._px(y1))],
                       fill=round(255 * gray), width=width)

    def rect(self, box: _Box, gray: float) -> None:
        x0, y0 = self._px(box.x), self._px(box.y)
        x1, y1 = self._px(box.x + box.w), self._px(box.y + box.h)
        self.draw.rectangle([(x0, y0), (x1, y1)], outline=round(255 * gray), width=1)

    def qr(self, token: str, box: _Box) -> None:
        size = (self._px(box.w), self._px(box.h))
        code = _qr_image(token, 1).resize(size, Image.Resampling.NEAREST)
        self.image.paste(code, (self._px(box.x), self._px(box.y)))


def sheet_pdf(pages: list[SheetPage]) -> bytes:
    """A PDF, one A4 portrait page per SheetPage: header, then each task's QR, title and due."""
    if not pages:
        raise ValueError("a sheet needs at least one page")
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(pages[0].campaign_title)
    pdf.setCreator("Zhida")
    surface = _PdfSurface(pdf)
    for page in pages:
        _draw_page(surface, page)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def sheet_png(page: SheetPage, *, dpi: int = 150) -> bytes:
    """The same single A4 page as a grayscale PNG at `dpi`."""
    with _PNG_LOCK:
        surface = _PngSurface(dpi)
        _draw_page(surface, page)
    buf = io.BytesIO()
    surface.image.save(buf, format="PNG", optimize=True, dpi=(dpi, dpi))
    return buf.getvalue()
