"""Deterministic demo and benchmark data (`flask --app wsgi seed`)."""
