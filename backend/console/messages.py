"""Validation messages in the page's language.

The schemas (marshmallow's defaults and ours) and the services speak English sentences with a
fixed shape; those shapes are the message ids the console translates, with their parameters
(lengths, bounds, codes) carried over. A sentence not listed here is shown as it is.
"""

from __future__ import annotations

import re
from typing import Callable

from flask_babel import gettext

_ = gettext

# (pattern over the whole English message, its translation with the pattern's named groups)
PATTERNS: list[tuple[re.Pattern, Callable[..., str]]] = [(re.compile(pattern), translate) for
                                                         pattern, translate in [
    (r"Missing data for required field\.", lambda: _("Required.")),
    (r"Field may not be null\.", lambda: _("Required.")),
    (r"Unknown field\.", lambda: _("Not a field of this form.")),
    (r"Not a valid integer\.", lambda: _("Enter a whole number.")),
    (r"Not a valid number\.", lambda: _("Enter a number.")),
    (r"Not a valid (?:aware )?datetime\.|Not a valid date\.",
     lambda: _("Enter a date and time.")),
    (r"Not a valid string\.", lambda: _("Enter text.")),
    (r"Not a valid boolean\.", lambda: _("Choose yes or no.")),
    (r"Not a valid email address\.", lambda: _("Enter an email address.")),
    (r"Shorter than minimum length (?P<n>\d+)\.",
     lambda n: _("At least %(n)s characters.", n=n) if n != "1" else _("Required.")),
    (r"Longer than maximum length (?P<n>\d+)\.", lambda n: _("At most %(n)s characters.", n=n)),
    (r"Length must be between (?P<low>\d+) and (?P<high>\d+)\.",
     lambda low, high: (_("Required, at most %(high)s characters.", high=high) if low == "1"
                        else _("Between %(low)s and %(high)s characters.", low=low, high=high))),
    (r"Must be greater than or equal to (?P<low>[\d.]+) and less than or equal to (?P<high>[\d.]+)\.",
     lambda low, high: _("Between %(low)s and %(high)s.", low=low, high=high)),
    (r"Must be greater than or equal to (?P<n>[\d.]+)\.", lambda n: _("At least %(n)s.", n=n)),
    (r"Must be less than or equal to (?P<n>[\d.]+)\.", lambda n: _("At most %(n)s.", n=n)),
    (r"Must be greater than (?P<n>[\d.]+)\.", lambda n: _("More than %(n)s.", n=n)),
    (r"Not a valid list\.", lambda: _("Enter a list.")),
    # rules (rules/definition.py): the message's $placeholders
    (r"Unknown placeholder\(s\) (?P<names>.*); use (?P<allowed>.*)\.",
     lambda names, allowed: _("Unknown placeholder(s) %(names)s; use %(allowed)s.", names=names,
                              allowed=allowed)),
    (r"Must be one of: (?P<choices>.*)\.", lambda choices: _("Choose one of: %(choices)s.",
                                                              choices=choices)),
    (r"String does not match expected pattern\.", lambda: _("Not in the expected form.")),
    (r"Use 1-40 letters, digits, '_', '-' or '\.'\.",
     lambda: _("Use 1-40 letters, digits, '_', '-' or '.'.")),
    (r"NUL characters are not allowed\.", lambda: _("Contains a character that is not allowed.")),
    (r"Not valid Unicode text \(a lone surrogate\)\.",
     lambda: _("Contains a character that is not allowed.")),
    (r"Out of range\.|Must be between the years 2000 and 2200\.",
     lambda: _("Choose a date between the years 2000 and 2200.")),
    (r"Must be after starts_at\.", lambda: _("Must be after the start.")),
    (r"Fixed after publish\.", lambda: _("Cannot change after publish.")),
    (r"At least one task is required\.", lambda: _("Add at least one task.")),
    (r"Selects no store\.", lambda: _("The targeting selects no store.")),
    (r"Unknown SKU\(s\): (?P<codes>.*)\.", lambda codes: _("Unknown SKU(s): %(codes)s.",
                                                           codes=codes)),
    (r"Not featured: (?P<codes>.*)\.", lambda codes: _("Not a featured SKU: %(codes)s.",
                                                       codes=codes)),
    (r"Unknown region '(?P<code>.*)'\.", lambda code: _("Unknown region %(code)s.", code=code)),
    (r"Unknown store '(?P<code>.*)'\.", lambda code: _("Unknown store %(code)s.", code=code)),
    (r"Unknown region\(s\): (?P<codes>.*)\.", lambda codes: _("Unknown region(s): %(codes)s.",
                                                                 codes=codes)),
    (r"Unknown store\(s\): (?P<codes>.*)\.", lambda codes: _("Unknown store(s): %(codes)s.",
                                                                codes=codes)),
    (r"Give due_at or due_in_hours, not both\.",
     lambda: _("Give hours after publish or a due time, not both.")),
    (r"Duplicate item ids: (?P<ids>.*)\.",
     lambda ids: _("Checklist ids must be unique: %(ids)s.", ids=ids)),
    (r"Not an active clerk of this store\.", lambda: _("Not an active clerk of this store.")),
    (r"Not a claimant\.", lambda: _("Not one of the task's clerks.")),
    (r"Required when rejecting\.", lambda: _("Required when rejecting.")),
    (r"A clerk needs a store\.", lambda: _("A clerk needs a store.")),
    (r"Clerks have a store, not regions\.", lambda: _("Clerks have a store, not regions.")),
    (r"Supervisors have regions, not a store\.", lambda: _("Supervisors have regions, not a store.")),
    (r"A supervisor needs at least one region\.",
     lambda: _("A supervisor needs at least one region.")),
    (r"HQ admins have neither a store nor regions\.",
     lambda: _("HQ admins have neither a store nor regions.")),
    (r"Missing\.", lambda: _("Required.")),
    (r"Not an IANA timezone name \(e\.g\. Asia/Shanghai\)\.",
     lambda: _("Not a timezone name (e.g. Asia/Shanghai).")),
    (r"Tags are 1-40 lowercase letters, digits, '_' or '-'\.",
     lambda: _("Tags are 1-40 lowercase letters, digits, '_' or '-'.")),
    (r"Use 3-80 letters, digits, '_', '\.', '@' or '-'\.",
     lambda: _("Use 3-80 letters, digits, '_', '.', '@' or '-'.")),
    (r"duplicate of line (?P<n>\d+)\.", lambda n: _("the same as line %(n)s.", n=n)),
    (r"not valid JSON\.", lambda: _("not valid JSON.")),
    (r"Expected (?P<columns>.*)\.", lambda columns: _("Expected the columns %(columns)s.",
                                                       columns=columns)),
    (r"Not UTF-8\.", lambda: _("The file is not UTF-8 text.")),
    (r"Missing column\(s\): (?P<columns>.*)\.", lambda columns: _("Missing column(s): %(columns)s.",
                                                                  columns=columns)),
    # the reasons of a sales import's rejected lines (backend.sales.service)
    (r"unknown store\.", lambda: _("unknown store.")),
    (r"unknown product\.", lambda: _("unknown product.")),
    (r"1-64 printable characters required\.", lambda: _("1-64 printable characters required.")),
    (r"a whole number from 1 to 10000\.", lambda: _("a whole number from 1 to 10000.")),
    (r"an ISO time with its timezone \(e\.g\. (?P<example>.*)\)\.",
     lambda example: _("a time with its timezone (e.g. %(example)s).", example=example)),
]]


def translate(message: str) -> str:
    """One English validation sentence in the page's language (unknown ones unchanged)."""
    whole = _one(message.strip())
    if whole != message.strip():
        return whole
    parts = re.split(r"(?<=\.) (?=[A-Z])", message.strip())  # marshmallow joins sentences
    return " ".join(_one(part) for part in parts)


def _one(sentence: str) -> str:
    for pattern, translated in PATTERNS:
        match = pattern.fullmatch(sentence)
        if match:
            return translated(**match.groupdict())
    named = FIELD_MESSAGE.fullmatch(sentence)  # "price: Not a valid number." (CSV line reports)
    if named:
        from backend.console.web import field_label
        return f"{field_label(named.group(1))}: {translate(named.group(2))}"
    return sentence


FIELD_MESSAGE = re.compile(r"([a-z_]+): (.+)")


def translate_errors(errors: dict[str, str]) -> dict[str, str]:
    """Every message of a flat {field: message} mapping, translated."""
    return {field: translate(message) for field, message in errors.items()}


def translate_nested(errors):
    """Every message of marshmallow-style nested errors (dicts and lists of sentences)."""
    if isinstance(errors, dict):
        return {key: translate_nested(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [translate_nested(value) for value in errors]
    return translate(errors) if isinstance(errors, str) else errors
