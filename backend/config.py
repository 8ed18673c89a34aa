"""Configuration: the only module that reads os.environ."""

import os
import secrets
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """The environment does not describe a safe configuration."""


def default_database_url() -> str:
    """SQLite file under instance/, the embedded default."""
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'zhida.sqlite3'}"


def load_config(overrides: dict | None = None) -> dict:
    """Build the app config from the environment, then apply test overrides."""
    env = os.environ
    config = {
        "ENV_NAME": env.get("ZHIDA_ENV", "development"),
        "DATABASE_URL": env.get("DATABASE_URL", default_database_url()),
        "SECRET_KEY": env.get("SECRET_KEY", ""),
        "ACCESS_TOKEN_TTL_SECONDS": int(env.get("ACCESS_TOKEN_TTL_SECONDS", "900")),
        "REFRESH_TOKEN_TTL_SECONDS": int(env.get("REFRESH_TOKEN_TTL_SECONDS", str(30 * 86400))),
        "MAX_JSON_BYTES": int(env.get("MAX_JSON_BYTES", str(1024 * 1024))),
        "MAX_BLOB_BYTES": int(env.get("MAX_BLOB_BYTES", str(5 * 1024 * 1024))),
        "MAX_IMPORT_BYTES": int(env.get("MAX_IMPORT_BYTES", str(64 * 1024 * 1024))),
        "DB_POOL_SIZE": int(env.get("DB_POOL_SIZE", "5")),
        # A read-only replica the analytics endpoints read from (unset: the primary).
        "ANALYTICS_DATABASE_URL": env.get("ANALYTICS_DATABASE_URL", ""),
        # Sign-in and refresh throttling (SPEC §15): `memory://` for one process; several API
        # processes share redis://… or memcached://… . Limits in the `limits` notation.
        "THROTTLE_STORAGE_URI": env.get("THROTTLE_STORAGE_URI", "memory://"),
        "THROTTLE_PER_USERNAME": env.get("THROTTLE_PER_USERNAME", "10/minute;100/hour"),
        "THROTTLE_PER_ADDRESS": env.get("THROTTLE_PER_ADDRESS", "100/minute;1000/hour"),
        # Reverse proxies in front of the API whose X-Forwarded-For is trusted (0: none).
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        # "id:secret,id:secret", first signs, all verify; empty: one key derived from SECRET_KEY.
        "QR_SIGNING_KEYS": env.get("QR_SIGNING_KEYS", ""),
        "QR_GRACE_HOURS": int(env.get("QR_GRACE_HOURS", "72")),
        # Notifications (SPEC §6). "record": the embedded transport (no network, kept in the
        # outbox); "fcm": firebase-admin with the service account in FCM_CREDENTIALS_FILE.
        "NOTIFY_TRANSPORT": env.get("NOTIFY_TRANSPORT", "record"),
        "FCM_CREDENTIALS_FILE": env.get("FCM_CREDENTIALS_FILE", ""),
        "FCM_PROJECT_ID": env.get("FCM_PROJECT_ID", ""),
        # Only for the local FCM imitation (tests, benchmarks, demos): the FCM base URL.
        "FCM_ENDPOINT": env.get("FCM_ENDPOINT", ""),
        "NOTIFY_QUIET_HOURS": env.get("NOTIFY_QUIET_HOURS", "22-8"),
        "NOTIFY_REMINDER_HOURS": float(env.get("NOTIFY_REMINDER_HOURS", "4")),
        "NOTIFY_LOOKBACK_HOURS": float(env.get("NOTIFY_LOOKBACK_HOURS", "72")),
        "NOTIFY_MAX_ATTEMPTS": int(env.get("NOTIFY_MAX_ATTEMPTS", "8")),
        "NOTIFY_BATCH_SIZE": min(500, int(env.get("NOTIFY_BATCH_SIZE", "500"))),
        "NOTIFY_LEASE_SECONDS": int(env.get("NOTIFY_LEASE_SECONDS", "120")),
        "NOTIFY_BACKOFF_SECONDS": float(env.get("NOTIFY_BACKOFF_SECONDS", "5")),
        "NOTIFY_POLL_SECONDS": float(env.get("NOTIFY_POLL_SECONDS", "2")),
        "NOTIFY_SCHEDULE_SECONDS": float(env.get("NOTIFY_SCHEDULE_SECONDS", "60")),
        # How often the worker looks for POS files queued in the console (backend/sales/jobs.py).
        "SALES_IMPORT_POLL_SECONDS": float(env.get("SALES_IMPORT_POLL_SECONDS", "2")),
        "DEFAULT_TIMEZONE": env.get("DEFAULT_TIMEZONE", "Asia/Shanghai"),
        # Webhooks (SPEC §13): only https URLs of public addresses unless WEBHOOK_ALLOW_PRIVATE=1
        # (development and tests); retried with backoff and jitter for WEBHOOK_RETRY_HOURS.
        # Recurring tasks: occurrences are created this far ahead of their local start time.
        "RECURRENCE_LEAD_HOURS": float(env.get("RECURRENCE_LEAD_HOURS", "24")),
        "WEBHOOK_ALLOW_PRIVATE": env.get("WEBHOOK_ALLOW_PRIVATE", "0") == "1",
        "WEBHOOK_TIMEOUT_SECONDS": float(env.get("WEBHOOK_TIMEOUT_SECONDS", "10")),
        "WEBHOOK_BACKOFF_SECONDS": float(env.get("WEBHOOK_BACKOFF_SECONDS", "30")),
        "WEBHOOK_BATCH_SIZE": int(env.get("WEBHOOK_BATCH_SIZE", "50")),
        "WEBHOOK_LEASE_SECONDS": int(env.get("WEBHOOK_LEASE_SECONDS", "120")),
        # The embedded default runs the worker inside the web process (`make run` sets it).
        "INPROCESS_WORKER": env.get("ZHIDA_INPROCESS_WORKER", "0") == "1",
        # Optional LLM for script generation (an OpenAI-compatible chat completions API): off
        # unless both the base URL (e.g. https://host/v1) and the model are set.
        "LLM_BASE_URL": env.get("ZHIDA_LLM_BASE_URL", "").strip(),
        "LLM_MODEL": env.get("ZHIDA_LLM_MODEL", "").strip(),
        "LLM_API_KEY": env.get("ZHIDA_LLM_API_KEY", ""),
        "LLM_TIMEOUT": float(env.get("ZHIDA_LLM_TIMEOUT", "10")),
        # Words no sales script may contain (HQ, clerk or LLM), added to recommend's defaults.
        "SCRIPT_BANNED_WORDS": tuple(word.strip() for word in
                                     env.get("ZHIDA_SCRIPT_BANNED_WORDS", "").split(",")
                                     if word.strip()),
    }
    config.update({
        # The web console's session cookie: never readable by scripts, not sent on cross-site
        # form posts, and HTTPS-only in production (below).
        "SESSION_COOKIE_NAME": "zhida_console",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": int(env.get("CONSOLE_SESSION_SECONDS", str(12 * 3600))),
        # Form tokens live as long as the console session they belong to.
        "WTF_CSRF_TIME_LIMIT": None,
        # Where `npm ci` puts the console's browser libraries (package.json at the project root).
        "CONSOLE_ASSETS_DIR": env.get("CONSOLE_ASSETS_DIR", str(PROJECT_ROOT / "node_modules")),
        # The clerk app's build (`node clients/app/build.mjs`, run by make), served at /app/.
        "CLERK_APP_DIR": env.get("CLERK_APP_DIR", str(PROJECT_ROOT / "clients" / "app" / "dist")),
        # Campaign dates typed in the console are read in this timezone.
        "CONSOLE_TIMEZONE": env.get("CONSOLE_TIMEZONE", "Asia/Shanghai"),
    })
    if overrides:
        config.update(overrides)
    config.setdefault("SESSION_COOKIE_SECURE", config["ENV_NAME"] == "production")
    if not config["SECRET_KEY"]:
        if config["ENV_NAME"] == "production":
            raise ConfigError("SECRET_KEY must be set in production (ZHIDA_ENV=production)")
        config["SECRET_KEY"] = instance_secret_key(INSTANCE_DIR / "secret_key")
    return config


def instance_secret_key(path: Path) -> str:
    """A random signing key made on first start and kept in instance/ (mode 0600): a demo
    never signs tokens with a key that is public. Every process of one checkout shares it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this very moment
            key = path.read_text().strip()
            if len(key) >= 32:
                return key
            time.sleep(0.02)
        raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
