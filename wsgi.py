"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""

from backend.app import create_app

app = create_app()
