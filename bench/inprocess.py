"""Application CPU per request, in-process (Flask test client, no HTTP, no gunicorn), on PostgreSQL.

    python -m bench.inprocess --shape push [--pushes 200] [--profile 40]
    python -m bench.inprocess --shape claim [--profile 200]

What the HTTP benchmarks (`bench.sync`, `bench.claims`) cannot show on a shared machine: how much
of our own CPU one request costs (``time.process_time`` of this process around each request,
which leaves out PostgreSQL's own process and any waiting), and how many SQL statements it sends.
push: the batches shape of SPEC §10 (`bench.sync --shape batches`), pushes of 25 mutations
(record_sale / set_checklist_item / add_note on the 10 tasks of each store; ten phones per store
tick the same items, so some ticks come back `superseded` with their task), phones taking turns.
claim: the 500 scans of `bench.claims` (10 contenders for each of 50 single-claimant tasks), one
after the other. ``--profile N`` prints cProfile's top lines (cumulative) over N more requests.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time

from sqlalchemy import event

from backend.app import create_app
from bench.common import SECRET, database_factory, emit


def _app(url: str):
    return create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "ENV_NAME": "production",
                       "TESTING": False})


class _Statements:
    """Counts the statements the app's engine sends (COMMIT/ROLLBACK not included)."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args, **_kwargs):
        self.count += 1


def _measure(client, requests_, check) -> tuple[list[float], list[float]]:
    cpu, wall = [], []
    for path, headers, body in requests_:
        data = json.dumps(body)  # the client's work, not the server's
        began_cpu, began_wall = time.process_time(), time.perf_counter()
        response = client.post(path, headers=headers, data=data, content_type="application/json")
        cpu.append(time.process_time() - began_cpu)
        wall.append(time.perf_counter() - began_wall)
        check(response)
    return cpu, wall


def _profile(client, requests_, check, top: int) -> str:
    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting for the database is not ours
    profiler.enable()
    for path, headers, body in requests_:
        check(client.post(path, headers=headers, json=body))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _python_calls(client, requests_, check) -> float:
    """Python function calls per request (cProfile's count): unlike CPU time, it does not move
    with the machine's load, so it compares two versions measured at different moments."""
    profiler = cProfile.Profile()
    for path, headers, body in requests_:
        data = json.dumps(body)
        profiler.enable()
        response = client.post(path, headers=headers, data=data, content_type="application/json")
        profiler.disable()
        check(response)
    return round(pstats.Stats(profiler).total_calls / len(requests_))


def _report(shape: str, cpu, wall, statements: int, requests_: int, **extra) -> None:
    emit(bench="inprocess", shape=shape, backend="postgresql", requests=requests_,
         cpu_ms_median=round(statistics.median(cpu) * 1000, 2),
         cpu_ms_p10=round(sorted(cpu)[int(len(cpu) * 0.1)] * 1000, 2),
         cpu_ms_p90=round(sorted(cpu)[int(len(cpu) * 0.9)] * 1000, 2),
         wall_ms_median=round(statistics.median(wall) * 1000, 2),
         statements_per_request=round(statements / requests_, 2), **extra)


def push(args) -> None:
    from bench.sync import _batch_mutations, _setup

    with database_factory("postgresql") as fresh:
        url = fresh("bench_inprocess_push")
        engine, phones, _ = _setup(url, stores=args.stores, tasks_per_store=10, items=["a", "b"])
        engine.dispose()
        # Every phone's pushes of 25 are planned (client times) first, then sent in turns: the
        # first push of every phone, then the second... so later-planned ticks win the register
        # and some earlier ones come back superseded, as when 16 phones are in flight.
        plans = [[("/api/v1/sync/push", headers,
                   {"client_id": f"bench-{username}", "schema_version": 1,
                    "mutations": _batch_mutations(tasks, args.batch, start)})
                  for start in range(1, args.mutations + 1, args.batch)]
                 for username, _store, headers, tasks, _slot in phones]
        turns = [plan[k] for k in range(len(plans[0])) for plan in plans]
        app = _app(url)
        counter = _Statements(app.extensions["zhida.engine"])
        superseded = 0

        def check(response):
            nonlocal superseded
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            superseded += sum(r["status"] == "rejected" for r in response.get_json()["results"])

        client = app.test_client()
        warm = args.warmup
        _measure(client, turns[:warm], check)
        measured = turns[warm:warm + args.pushes]
        counter.count, superseded = 0, 0
        cpu, wall = _measure(client, measured, check)
        statements, measured_superseded = counter.count, superseded
        rest = turns[warm + args.pushes:]
        calls = _python_calls(client, rest[:50], check)
        _report("push", cpu, wall, statements, len(measured), batch=args.batch,
                superseded=measured_superseded, python_calls_per_request=calls)
        if args.profile:
            print(_profile(client, rest[50:50 + args.profile], check, args.top))
        app.extensions["zhida.engine"].dispose()


def claim(args) -> None:
    from bench.claims import _reset_claims, _setup

    with database_factory("postgresql") as fresh:
        url = fresh("bench_inprocess_claims")
        engine, session, attempts = _setup(url)
        # Interleaved by task, as in the steady shape: each task's first scan wins, the next
        # nine lose (the losers' path is most of a burst).
        ordered = sorted(attempts, key=lambda a: attempts.index(a) % 10)
        requests_ = [("/api/v1/claims", header, {"qr_token": code}) for header, code in ordered]
        app = _app(url)
        counter = _Statements(app.extensions["zhida.engine"])
        outcomes = {201: 0, 409: 0}

        def check(response):
            assert response.status_code in (201, 409), response.get_data(as_text=True)[:300]
            outcomes[response.status_code] += 1

        client = app.test_client()
        _measure(client, requests_[:args.warmup], check)
        _reset_claims(session)
        counter.count = 0
        outcomes.update({201: 0, 409: 0})
        cpu, wall = _measure(client, requests_, check)
        assert outcomes[201] == 50, outcomes
        statements, winners = counter.count, outcomes[201]
        _reset_claims(session)
        calls = _python_calls(client, requests_, check)
        _report("claim", cpu, wall, statements, len(requests_), winners=winners,
                cpu_ms_median_winner=round(statistics.median(
                    c for c, r in zip(cpu, _winners(requests_)) if r) * 1000, 2),
                python_calls_per_request=calls)
        if args.profile:
            _reset_claims(session)
            print(_profile(client, requests_[:args.profile], check, args.top))
        session.close()
        engine.dispose()
        app.extensions["zhida.engine"].dispose()


def _winners(requests_) -> list[bool]:
    """The first scan of each task wins (the scans are sent one after the other)."""
    seen, first = set(), []
    for _path, _header, body in requests_:
        first.append(body["qr_token"] not in seen)
        seen.add(body["qr_token"])
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["push", "claim"], required=True)
    parser.add_argument("--stores", type=int, default=25)
    parser.add_argument("--mutations", type=int, default=100)
    parser.add_argument("--batch", type=int, default=25)
    parser.add_argument("--pushes", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--profile", type=int, default=0, help="profile this many more requests")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    {"push": push, "claim": claim}[args.shape](args)


if __name__ == "__main__":
    main()
