"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""

from backend.app import create_app
from backend.runtime import freeze_startup_heap

app = create_app()
freeze_startup_heap()  # after start-up: collections then skip the long-lived heap (backend/runtime.py)
