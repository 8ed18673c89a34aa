"""Fuzz the API from its published OpenAPI with schemathesis, as one role, on one database.

    python -m bench.fuzz --role clerk --database postgresql --max-examples 200

Every operation of /api/v1/openapi.json gets `--max-examples` generated requests that follow the
spec and as many that break it (schemathesis' positive and negative modes), sent in process to
the app over the demo data (`seed_demo`), signed in as the role (`api_key`: an HQ key with every
scope). Each answer is checked: no 5xx, and the answer matches the published spec (status,
content type, body schema). One JSON line of figures; the failures found, one per line, on
stderr. The exit status is 1 when anything failed. SPEC §9/§15, issue 14.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import time

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy import select

import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error,
                                 response_schema_conformance, status_code_conformance)

from backend import db
from backend.app import create_app
from backend.auth import api_keys
from backend.auth.tokens import issue_access_token
from backend.org.models import User
from bench.common import SECRET, database_factory, emit
from seed import demo

ROLES = {"admin": "admin", "supervisor": "sup_east", "clerk": "clerk_s001_1", "api_key": "admin"}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
# Operations that end the fuzzer's own sign-in (it would fuzz the rest signed out).
SKIPPED = {("POST", "/api/v1/auth/logout")}


def _credentials(app, role: str) -> callable:
    """A function giving a fresh Authorization header for the role (re-read each time: a fuzzed
    password change or deactivation must not leave the rest of the run signed out)."""
    username = ROLES[role]
    if role == "api_key":
        with app.app_context():
            session = db.new_session()
            admin = session.scalar(select(User).where(User.username == username))
            secret = api_keys.create(session=session, actor=admin, name="fuzz",
                                     scopes=list(api_keys.SCOPES))["key"]
            session.close()
        return lambda: {"Authorization": f"Bearer {secret}"}

    def header() -> dict:
        with app.app_context():
            session = db.new_session()
            user = session.scalar(select(User).where(User.username == username))
            user.active = True  # a fuzzed deactivation of ourselves is undone
            session.commit()
            token = issue_access_token(user_id=user.id, role=user.role, secret=SECRET,
                                       ttl_seconds=3600, now=dt.datetime.now(dt.timezone.utc),
                                       epoch=user.session_epoch)
            session.close()
        return {"Authorization": f"Bearer {token}"}
    return header


def seed_world(session, *, stores: int, sales: int) -> None:
    """The demo data (`seed_demo`) of `stores` stores with `sales` receipts: the demo's 30 stores
    and 6,000 receipts for a full run, a handful for a smoke test."""
    report, now = demo.SeedReport(), dt.datetime.now(dt.timezone.utc)
    regions = demo.seed_regions(session, report)
    demo.seed_stores(session, report, regions, stores, False)
    demo.seed_users(session, report, regions, stores, False)
    demo.seed_products(session, report)
    session.commit()
    demo.seed_campaigns(session, report, now)
    demo.seed_sales(session, report, now, transactions=sales)


def fuzz(url: str, *, role: str, max_examples: int, seed: int, operations: str | None = None,
         stores: int = demo.NAMED_STORES, sales: int = 6000, report=print) -> dict:
    """Run the fuzzer over the app on `url`; the figures (and each failure through `report`)."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "NOTIFY_QUIET_HOURS": "off",
                      "THROTTLE_PER_USERNAME": "100000/minute",
                      "THROTTLE_PER_ADDRESS": "100000/minute"})
    with app.app_context():
        session = db.new_session()
        seed_world(session, stores=stores, sales=sales)
        session.close()
    authorization = _credentials(app, role)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    figures = {"operations": 0, "cases": 0, "server_errors": 0, "schema_violations": 0,
               "statuses": collections.Counter()}
    seen = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in SKIPPED or (operations and operations not in operation.path):
            continue
        figures["operations"] += 1
        headers = authorization()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=False,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.seed(seed)
            def run(case):
                case.headers = {name: value for name, value in (case.headers or {}).items()
                                if name.lower() != "authorization"} | headers
                response = case.call()
                figures["cases"] += 1
                figures["statuses"][response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as failures:  # a FailureGroup of every failed check
                    for failure in getattr(failures, "exceptions", [failures]):
                        title = getattr(failure, "title", type(failure).__name__)
                        kind = ("server_errors" if response.status_code >= 500
                                else "schema_violations")
                        signature = (key, response.status_code, title)
                        figures[kind] += 1
                        if signature not in seen:
                            seen.add(signature)
                            report(f"{key[0]} {key[1]} → {response.status_code} {title}: "
                                   f"{str(failure)[:300]!r} (query={case.query!r}, "
                                   f"body={str(case.body)[:200]!r})")
            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass
    app.extensions["zhida.engine"].dispose()
    figures["statuses"] = dict(sorted(figures["statuses"].items()))
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=sorted(ROLES), default="clerk")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--operations", help="only paths containing this text")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with database_factory(args.database) as fresh:
        figures = fuzz(fresh("zhida_fuzz"), role=args.role, max_examples=args.max_examples,
                       seed=args.seed, operations=args.operations,
                       report=lambda line: print(line, file=sys.stderr, flush=True))
    emit(bench="fuzz", role=args.role, database=args.database, max_examples=args.max_examples,
         seed=args.seed, seconds=round(time.perf_counter() - started, 1), **figures)
    return 1 if figures["server_errors"] or figures["schema_violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
