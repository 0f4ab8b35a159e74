"""Django settings of the review console, read from the environment (set by `scrapeguard review`).

SCRAPEGUARD_REVIEW_DATA       data directory: the SQLite database and the generated secret keys (default ./review-data)
SCRAPEGUARD_REVIEW_DATABASE   `sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST:PORT/NAME` (default: SQLite in DATA)
SCRAPEGUARD_REVIEW_SECURE     `1` behind HTTPS: cookies only over HTTPS
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

DATA = Path(os.environ.get("SCRAPEGUARD_REVIEW_DATA", "review-data")).resolve()


def _secret(name: str) -> str:
    """A random key kept in the data directory (mode 0600), made on first use."""
    path = DATA / name
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def database(url: str) -> dict[str, object]:
    """A Django DATABASES entry from a URL.

    >>> database("postgresql://u:p%40ss@127.0.0.1:5433/review")["PASSWORD"]
    'p@ss'
    >>> database("sqlite:////tmp/r.sqlite3")["NAME"]
    '/tmp/r.sqlite3'
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]),  # sqlite:///relative.db, sqlite:////absolute.db
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"database URL {url!r}: the scheme must be sqlite or postgresql")


SECRET_KEY = _secret("secret-key")
PSEUDONYM_KEY = os.environ.get("SCRAPEGUARD_REVIEW_PSEUDONYM_KEY") or _secret("pseudonym-key")
"""HMAC key of the pseudonyms shown to viewers and written to pseudonymised exports."""
DEBUG = False
ALLOWED_HOSTS = ["*"]  # bound to the --host given; no virtual hosting
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "review.apps.ReviewConfig",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "review.access.LoginRequiredMiddleware",
    "review.access.ContentSecurityPolicyMiddleware",
]
ROOT_URLCONF = "review.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request", "review.access.role"]},
    }
]
DATABASES = {
    "default": database(os.environ.get("SCRAPEGUARD_REVIEW_DATABASE") or f"sqlite:///{DATA / 'review.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE = os.environ.get("SCRAPEGUARD_REVIEW_SECURE") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE
CSRF_FAILURE_VIEW = "review.access.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
USE_I18N = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}

# Where verdicts go and what the console reads (see review/cli.py for the options that set these).
REVIEW_BOOTSTRAP = os.environ.get("SCRAPEGUARD_REVIEW_BOOTSTRAP") or None
"""Kafka bootstrap servers: verdicts go to the `verdicts` topic, and `serve` follows `decisions` and `access-logs`."""
REVIEW_TOPIC_PREFIX = os.environ.get("SCRAPEGUARD_REVIEW_TOPIC_PREFIX", "")
REVIEW_VERDICTS_FILE = os.environ.get("SCRAPEGUARD_REVIEW_VERDICTS_FILE") or None
"""Embedded mode: verdicts are appended to this JSON Lines file (the one `scrapeguard run --verdicts` reads)."""
REVIEW_DETECTOR_CONFIG = os.environ.get("SCRAPEGUARD_REVIEW_DETECTOR_CONFIG") or None
"""The detector's TOML (routes, allowlist), as given to `scrapeguard run --config`."""
REVIEW_CLOCK = os.environ.get("SCRAPEGUARD_REVIEW_CLOCK", "event")
"""Event time of a verdict: `event` = the newest event or decision time the console has read (replays, and live
traffic whose feed is current), `wall` = the wall clock."""
