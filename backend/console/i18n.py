"""Console languages (zh-CN, en) with flask-babel; the .po catalogs are compiled at app start."""

from __future__ import annotations

import os
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from flask_babel import Babel

CATALOGS = Path(__file__).parent / "translations"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
LANGUAGE_COOKIE = "zhida_lang"


def compile_catalogs(source: Path, target: Path) -> Path:
    """Compile every .po under source into .mo files under target (only the stale ones).

    Binaries stay out of git: each app compiles what it needs at start. The .mo is written
    to a temporary name and renamed, so parallel starts never read a half-written file.
    """
    for po_path in source.glob("*/LC_MESSAGES/*.po"):
        # Babel names zh_CN "zh_Hans_CN" (it adds the script), and that is the folder gettext
        # looks in: the compiled tree uses Babel's name, the source the familiar one.
        folder = str(Locale.parse(po_path.parent.parent.name))
        mo_path = target / folder / "LC_MESSAGES" / po_path.with_suffix(".mo").name
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(partial, mo_path)
    return target


def select_language() -> str:
    """The language switch (a cookie) first, then the browser's Accept-Language, then zh-CN."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "en"])
    return "en" if best == "en" else DEFAULT_LANGUAGE


def init_i18n(app: Flask) -> None:
    """flask-babel over the compiled catalogs; times shown in the console's timezone."""
    compiled = compile_catalogs(CATALOGS, Path(app.instance_path) / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["CONSOLE_TIMEZONE"]
    Babel(app, locale_selector=select_language)
