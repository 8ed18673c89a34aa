"""The README's curl walk-through works when followed in order (issue 14 item 14).

Every ```bash block of the section "A walk through the API with curl" runs, as written, in one
bash against a live server over the demo data, on both databases; blocks that are not part of
the walk (long-running processes, an LLM server of your own) are fenced ```sh instead.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from backend import db
from seed.demo import seed_demo
from tests.live_server import live_server  # noqa: F401
from tests.paths import ROOT

SECTION = "## A walk through the API with curl"
DEMO_ADDRESS = "http://127.0.0.1:5000"
SECRET = "test-secret-key-that-is-long-enough-32b"


def walkthrough_blocks(readme: str) -> list[str]:
    """The ```bash blocks between the walk-through heading and the next level-2 heading."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```bash\n(.*?)^```$", section, flags=re.S | re.M)


def test_the_walkthrough_has_its_blocks_and_no_placeholders():
    blocks = walkthrough_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 5
    text = "\n".join(blocks)
    assert not re.search(r"/ID/|/1/|campaigns/1\b|sqlite3 ", text)  # ids come from answers
    assert text.index("$API/devices") < text.index("/publish")  # the phone hears the publish


@pytest.fixture
def demo(app):
    with app.app_context():
        session = db.new_session()
        seed_demo(session, progress=False)
        session.close()


def test_the_readme_walkthrough_runs_in_order_against_a_live_server(demo, live_server,
                                                                    database_url):
    blocks = walkthrough_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    script = "\n".join(["set -eo pipefail", *blocks,
                        'echo "IDS $CAMPAIGN $TASK $OPEN $NOTE $SCRIPT $BEST"'])
    script = script.replace(DEMO_ADDRESS, live_server)
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET,
           "NOTIFY_QUIET_HOURS": "off", "FLASK_APP": "wsgi"}
    run = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    out = run.stdout
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    ids = re.search(r"^IDS (.*)$", out, flags=re.M).group(1).split()
    assert len(ids) == 6 and all(value.isdigit() for value in ids), ids
    assert '"tasks_created": 0' not in out.split("tasks_created")[0]  # the first publish creates
    assert '"error": "proof_missing"' in out
    assert '"approved"' in out  # the review
    assert '"error": "task_already_claimed"' in out and '"qr_revoked"' in out
    assert '"kind": "task_published"' in out  # the phone registered first: the inbox has it
    assert re.search(r'"state": "sent".*"title": "[^"]+"', out), out[-2000:]
    assert "null" not in re.findall(r"^\S+$", out, flags=re.M)  # no step answered nothing
    assert "204" in out.splitlines()
