"""Reading JSON request bodies with a depth bound, for Flask and for flask-smorest's parser."""

from __future__ import annotations

import json
import typing

from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

MAX_JSON_DEPTH = 64
BODY = "<request body>"  # webargs reads an empty `doc` as "no body at all"


def load_bounded_json(text: str | bytes) -> typing.Any:
    """json.loads, refusing (JSONDecodeError, a ValueError) bodies nested over MAX_JSON_DEPTH:
    a thousand levels would otherwise exhaust the recursion limit and answer 500."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"Not UTF-8: {exc.reason}", BODY, exc.start) from exc
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("Nested too deeply", BODY, 0)
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return value  # too few brackets to nest that deep (most bodies: no walk at all)
    level, depth = [value], 1
    while level:  # one level of containers at a time
        containers = [item for item in level if isinstance(item, (dict, list))]
        if containers and depth > MAX_JSON_DEPTH:
            raise json.JSONDecodeError(f"Nested deeper than {MAX_JSON_DEPTH} levels", BODY, 0)
        level = [child for item in containers
                 for child in (item.values() if isinstance(item, dict) else item)]
        depth += 1
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's request.get_json with the depth bound."""

    def loads(self, s, **kwargs):
        return load_bounded_json(s)


class BoundedFlaskParser(FlaskParser):
    """flask-smorest's argument parser with the depth bound (malformed JSON: 400), and query
    strings held to their schema like bodies: `/tasks?stauts=open` is a 422 naming the unknown
    parameter, not every task (webargs would drop unknown query parameters silently)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None,
                                   "querystring": None}

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        return load_bounded_json(req.get_data(cache=True))
