"""The real app served on a free loopback port, for tests that drive it over HTTP (node, browsers).

`serve(app)` is a context manager yielding the base URL ("http://127.0.0.1:<port>"); werkzeug
threads answer requests while the test runs, and the server stops when the block ends. The
`live_server` fixture wraps it around the `app` fixture of tests/conftest.py, so a test module opts
in with `from tests.live_server import live_server  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server


@contextlib.contextmanager
def serve(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free port of `host` until the block ends; yields the base URL."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app on a free loopback port; the value is the base URL without a trailing slash."""
    with serve(app) as base_url:
        yield base_url
