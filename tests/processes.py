"""A real `flask --app wsgi worker` process for tests that kill one mid-send, and waiting on a condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.paths import ROOT


def worker_process(database_url: str, **settings: str) -> subprocess.Popen:
    """Start the worker on `database_url` with short leases and polls, quiet hours off, plus `settings`."""
    env = {**os.environ, "DATABASE_URL": database_url, "NOTIFY_LEASE_SECONDS": "3",
           "NOTIFY_POLL_SECONDS": "0.3", "NOTIFY_QUIET_HOURS": "off",
           "SECRET_KEY": "test-secret-key-that-is-long-enough-32b", **settings}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(condition, seconds: float) -> bool:
    """Poll `condition` every 0.1 s; whether it held within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
