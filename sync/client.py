"""Reference client: the phone's side of sync v1 in ~150 lines — the protocol's executable docs.

It keeps the server's view of its scope in a local SQLite database, queues mutations
with consecutive ids, pushes them (retrying safely: ids make them exactly-once), drops
what the server confirmed (``last_mutation_id``), and pulls pages until ``has_more`` is
false, replacing everything on ``reset``. The transport is any callable
``send(path, body) -> (status, json)``: the Flask test client in tests, HTTP in benchmarks.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Callable

Transport = Callable[[str, dict], tuple[int, dict]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (entity TEXT, id INTEGER, data TEXT, PRIMARY KEY (entity, id));
CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY, name TEXT, args TEXT, client_time TEXT);
CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, result TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class PushRefused(Exception):
    """The server refused a whole push (gap, size, auth): nothing of it was applied."""

    def __init__(self, status: int, body: dict):
        super().__init__(f"{status} {body.get('error')}: {body.get('message')}")
        self.status, self.body = status, body


class PhoneClient:
    """One app install: a client id, a local store, a mutation queue."""

    def __init__(self, client_id: str, send: Transport, path: str = ":memory:"):
        self.client_id = client_id
        self.send = send
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    # -- local state ------------------------------------------------------------------------
    def _meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _set_meta(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def view(self, entity: str = "task") -> dict[int, dict]:
        """The local copy of the server's view of this client's scope."""
        return {row[0]: json.loads(row[1]) for row in
                self.db.execute("SELECT id, data FROM entities WHERE entity = ?", (entity,))}

    def pending(self) -> list[int]:
        """Ids of queued mutations not yet confirmed by the server."""
        return [row[0] for row in self.db.execute("SELECT id FROM queue ORDER BY id")]

    def result(self, mutation_id: int) -> dict | None:
        row = self.db.execute("SELECT result FROM results WHERE id = ?", (mutation_id,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- mutations --------------------------------------------------------------------------
    def enqueue(self, name: str, client_time: dt.datetime | None = None, **args) -> int:
        """Queue a mutation offline; ids are consecutive per client, starting at 1."""
        mutation_id = self._meta("next_id", 1)
        self.db.execute("INSERT INTO queue VALUES (?, ?, ?, ?)",
                        (mutation_id, name, json.dumps(args),
                         client_time.isoformat() if client_time else None))
        self._set_meta("next_id", mutation_id + 1)
        self.db.commit()
        return mutation_id

    def _drop_answered(self, last_mutation_id: int) -> None:
        """Drop mutations the server applied *and* whose result this phone holds. One applied
        but unanswered (lost response) stays queued: pushing it again returns the stored
        result and never re-applies it."""
        self.db.execute("DELETE FROM queue WHERE id <= ? AND id IN (SELECT id FROM results)",
                        (last_mutation_id,))
        self.db.commit()

    def push(self, *, batch: int = 500, lose_response: bool = False) -> list[dict]:
        """Send the queue (oldest first); a lost response is simply retried later."""
        rows = self.db.execute("SELECT id, name, args, client_time FROM queue ORDER BY id LIMIT ?",
                               (batch,)).fetchall()
        if not rows:
            return []
        body = {"client_id": self.client_id, "schema_version": 1, "mutations": [
            {"id": mutation_id, "name": name, "args": json.loads(args), "client_time": client_time}
            for mutation_id, name, args, client_time in rows]}
        status, answer = self.send("/api/v1/sync/push", body)
        if status != 200:
            raise PushRefused(status, answer)
        if lose_response:  # the server applied it; the phone never heard back
            return []
        for result in answer["results"]:
            self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)",
                            (result["id"], json.dumps(result)))
            if result.get("entity"):
                self._put("task", result["entity"]["id"], result["entity"])
        self._drop_answered(answer["last_mutation_id"])
        return answer["results"]

    # -- pull -------------------------------------------------------------------------------
    def _put(self, entity: str, entity_id: int, data: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO entities VALUES (?, ?, ?)",
                        (entity, entity_id, json.dumps(data, sort_keys=True)))

    def pull(self, *, limit: int = 200, lose_response: bool = False) -> int:
        """Pull until caught up; returns the number of pages. Idempotent if a response is lost."""
        pages = 0
        while True:
            body = {"client_id": self.client_id, "cursor": self._meta("cursor"),
                    "schema_version": 1, "limit": limit}
            status, answer = self.send("/api/v1/sync/pull", body)
            if status != 200:
                raise PushRefused(status, answer)
            pages += 1
            if lose_response:
                return pages
            if answer["reset"] or body["cursor"] is None:  # a fresh snapshot replaces everything
                self.db.execute("DELETE FROM entities")
            for change in answer["changes"]:
                if change["op"] == "delete":
                    self.db.execute("DELETE FROM entities WHERE entity = ? AND id = ?",
                                    (change["entity"], change["id"]))
                else:
                    self._put(change["entity"], change["id"], change["data"])
            self._set_meta("cursor", answer["cursor"])
            self._drop_answered(answer["last_mutation_id"])
            self.db.commit()
            if not answer["has_more"]:
                return pages
