"""Shared benchmark plumbing: fresh databases on SQLite or a throwaway PostgreSQL, timing."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import tempfile
import time

from backend import migrate
from backend.db import build_engine
from tests import pg_server


@contextlib.contextmanager
def database_factory(backend: str):
    """Yield a function name -> URL of a fresh, migrated database of this backend."""
    server = pg_server.start_server(durable=True) if backend == "postgresql" else None
    workdir = tempfile.mkdtemp(prefix="zhida-bench-")
    try:
        def fresh(name: str) -> str:
            if server:
                server.create_database(name)
                url = server.url(name)
            else:
                url = f"sqlite:///{os.path.join(workdir, name + '.sqlite3')}"
            engine = build_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            return url

        yield fresh
    finally:
        if server:
            server.stop()


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values):
    return statistics.median(values)


def emit(**fields) -> None:
    """One JSON line per result, with the machine it ran on."""
    fields.setdefault("machine", f"{platform.machine()} {os.cpu_count()} cpu")
    print(json.dumps(fields, ensure_ascii=False), flush=True)
