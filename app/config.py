"""Every setting in one place, read from the environment with sensible defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", ROOT / "instance"))


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'app.db'}"


def _flag(name: str, default: bool) -> bool:
    """A boolean setting: 1/true/yes/on (any case) is true."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _retention_years(spec: str, defaults: dict[str, int]) -> dict[str, int]:
    """Retention periods: the defaults, overridden by "key=years,key=years" from the environment."""
    table = dict(defaults)
    for item in spec.split(","):
        key, _, years = item.partition("=")
        if key.strip() and years.strip().isdigit():
            table[key.strip()] = int(years.strip())
    return table


class Config:
    """Production-shaped defaults; override through environment variables."""

    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}
    TOKEN_TTL_HOURS = int(os.environ.get("TOKEN_TTL_HOURS", "8"))
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo")
    PROCESSES_DIR = Path(os.environ.get("PROCESSES_DIR", ROOT / "processes"))
    FORMS_DIR = Path(os.environ.get("FORMS_DIR", ROOT / "forms"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(10 * 1024 * 1024)))
    API_TITLE = "РСНМС: процессы методического сопровождения"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False
    TESTING = False
    # Audit retention in years per process key ("default" for the others); docs/audit.md.
    # Override with RETENTION_YEARS="attestation_support=10,default=5".
    RETENTION_YEARS: dict[str, int] = _retention_years(
        os.environ.get("RETENTION_YEARS", ""), {"default": 5, "attestation_support": 10}
    )
    # Web UI: Russian by default, English available; times shown in the region's zone.
    BABEL_DEFAULT_LOCALE = "ru"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("DISPLAY_TIMEZONE", "Europe/Moscow")
    LANGUAGES = ("ru", "en")
    INBOX_PER_PAGE = int(os.environ.get("INBOX_PER_PAGE", "25"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # None: Secure unless the app runs in debug or testing mode (set by the web package).
    SESSION_COOKIE_SECURE: bool | None = (
        None
        if os.environ.get("SESSION_COOKIE_SECURE") in (None, "")
        else os.environ["SESSION_COOKIE_SECURE"].lower() in ("1", "true", "yes")
    )
    WTF_CSRF_TIME_LIMIT: int | None = None  # the token lives as long as the session
    # Login lockout (web form and API token): failures of one username within the window lock
    # it for the lockout period (audited login_locked); docs/security.md.
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_FAILURE_WINDOW_MINUTES = int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15"))
    LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))

    # Deadlines, timers and notifications (docs/deadlines.md).
    JOBS_EMBEDDED = _flag("JOBS_EMBEDDED", True)
    JOBS_INTERVAL_SECONDS = float(os.environ.get("JOBS_INTERVAL_SECONDS", "15"))
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
    CELERY_QUEUE = os.environ.get("CELERY_QUEUE", "rsnms")
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_FROM = os.environ.get("SMTP_FROM", "rsnms@localhost")
    SMTP_STARTTLS = _flag("SMTP_STARTTLS", False)
    REMINDER_LEAD_HOURS = float(os.environ.get("REMINDER_LEAD_HOURS", "24"))
    DIGEST_HOUR = int(os.environ.get("DIGEST_HOUR", "8"))
    DEADLINE_TIMEZONE = os.environ.get("DEADLINE_TIMEZONE", "Europe/Moscow")
    HOLIDAYS_FILE = Path(os.environ.get("HOLIDAYS_FILE", ROOT / "data" / "holidays_ru.json"))
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")

    # Single sign-on through the directory (docs/administration.md); empty LDAP_URL: off.
    LDAP_URL = os.environ.get("LDAP_URL", "")
    LDAP_BASE_DN = os.environ.get("LDAP_BASE_DN", "")
    LDAP_USER_DN_TEMPLATE = os.environ.get(
        "LDAP_USER_DN_TEMPLATE", "uid={username},ou=people,{base_dn}"
    )
    LDAP_TIMEOUT = float(os.environ.get("LDAP_TIMEOUT", "5"))
    # Bulk import: processes hashing the passwords given in a CSV (Argon2 is slow on purpose).
    IMPORT_HASH_WORKERS = int(os.environ.get("IMPORT_HASH_WORKERS", "2"))
    # Progress of imports started from the UI (one small JSON file per job, mode 0600).
    IMPORT_JOBS_DIR = Path(os.environ.get("IMPORT_JOBS_DIR", INSTANCE_DIR / "import-jobs"))

    def __init__(self) -> None:
        self.SECRET_KEY = _secret_key()
        self.SQLALCHEMY_DATABASE_URI = _database_url()


class TestConfig(Config):
    """Settings for the test suite; the database URL is given by the fixture."""

    TESTING = True
    TOKEN_TTL_HOURS = 1

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = database_url
