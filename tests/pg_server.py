"""Start a throwaway PostgreSQL server for the test run (Debian's postgresql package).

pytest-postgresql runs initdb as the current user, which PostgreSQL refuses when
that user is root (as on CI machines); this starts the server as the `postgres`
system user in that case.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


def find_pg_bin() -> str | None:
    """The directory of pg_ctl/initdb, newest version first, or None when not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if os.path.exists(os.path.join(directory, "pg_ctl")):
            return directory
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    """A running server: its URL template and how to stop it."""

    port: int
    data_dir: str
    pg_bin: str
    as_user: list[str]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True)

    def create_database(self, name: str) -> None:
        self.run(os.path.join(self.pg_bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                 "-U", "postgres", name)

    def stop(self) -> None:
        subprocess.run([*self.as_user, os.path.join(self.pg_bin, "pg_ctl"), "-D", self.data_dir,
                        "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def start_server(*, durable: bool = False) -> PgServer:
    """initdb into a temp dir and start on a free loopback port.

    Tests run with fsync off (throwaway data); benchmarks ask for ``durable=True``,
    PostgreSQL's default durability, so their figures mean what production would see.
    """
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = tempfile.mkdtemp(prefix="zhida-pg-")
    data_dir = os.path.join(base, "data")
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
        os.chmod(base, 0o755)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, os.path.join(pg_bin, "initdb"), "-D", data_dir, "-U", "postgres",
                    "-A", "trust", "-E", "UTF8", "--no-locale"], check=True, capture_output=True)
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {base} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run([*as_user, os.path.join(pg_bin, "pg_ctl"), "-D", data_dir, "-o", options,
                    "-l", os.path.join(base, "log"), "-w", "start"], check=True, capture_output=True)
    server = PgServer(port=port, data_dir=data_dir, pg_bin=pg_bin, as_user=as_user)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("PostgreSQL did not start")
