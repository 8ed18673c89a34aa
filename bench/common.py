"""Shared benchmark plumbing: fresh databases on SQLite or a throwaway PostgreSQL, timing."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

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

        fresh.server = server  # for tools that talk to it directly (pgbench)
        yield fresh
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # a million-task SQLite file is 0.5 GB


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


SECRET = "bench-secret-key-0123456789abcdef0123"


@contextlib.contextmanager
def gunicorn(url: str, *, workers: int, threads: int):
    """Serve wsgi:app with gunicorn gthread workers on a free loopback port; yield its base URL."""
    port = pg_server.free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "ZHIDA_ENV": "production",
           "DB_POOL_SIZE": str(threads)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
         "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--backlog", "2048",
         "--log-level", "warning", "wsgi:app"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
