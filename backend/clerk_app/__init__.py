"""The clerk app (a PWA built from clients/app) served at /app/."""
