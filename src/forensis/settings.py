"""Django settings for Forensis, read from the environment.

Every operator-facing knob is an environment variable (see README "Configure"). Invalid values raise
``ImproperlyConfigured`` with a sentence an operator can act on; ``forensis.cli`` prints it without
a traceback.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None


def _writable_data_dir() -> Path:
    data_dir = Path(os.environ.get("FORENSIS_DATA_DIR", "var")).expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"The data directory {data_dir} is not writable ({exc.strerror}). "
            "Set FORENSIS_DATA_DIR to a directory this user can write to."
        ) from None
    return data_dir


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, else generated once into the data directory."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


#: The engines Forensis runs on (its raw SQL — the import's bulk loading, the ledger checks — knows these two).
SUPPORTED_ENGINES = ("django.db.backends.postgresql", "django.db.backends.sqlite3")


def _database(data_dir: Path) -> dict:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(data_dir / "forensis.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so hash-chained appends (audit, custody)
                # never read a stale chain head; WAL lets readers go on while one writer writes.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(
            f"DATABASE_URL is not a valid database address ({exc}). "
            "Expected e.g. postgres://user:password@host:5432/forensis or sqlite:////path/to/file.sqlite3."
        ) from None
    if not config.get("ENGINE") or not config.get("NAME"):
        raise ImproperlyConfigured(
            "DATABASE_URL names no database. Expected e.g. postgres://user:password@host:5432/forensis."
        )
    if config["ENGINE"] not in SUPPORTED_ENGINES:
        raise ImproperlyConfigured(
            "DATABASE_URL must name a PostgreSQL or SQLite database (Forensis is built and tested on those two), "
            f"not {config['ENGINE'].rsplit('.', 1)[-1]}."
        )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    else:
        # PostgreSQL's JIT compiler spends seconds compiling the statistics' aggregate queries that run in a
        # fraction of that without it (measured in bench/benchmarks/statistics.py); Forensis's queries are short.
        config.setdefault("OPTIONS", {})["options"] = "-c jit=off"
    return config


FORENSIS_ENV = os.environ.get("FORENSIS_ENV", "development").strip().lower()
if FORENSIS_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"FORENSIS_ENV must be 'development' or 'production', not {FORENSIS_ENV!r}.")
PRODUCTION = FORENSIS_ENV == "production"

DATA_DIR = _writable_data_dir()
SECRET_KEY = _secret_key(DATA_DIR)
DEBUG = _env_bool("FORENSIS_DEBUG", default=not PRODUCTION)

_hosts = os.environ.get("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()]
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name this server's host name(s) in production.")
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "forensis.core",
    "forensis.accounts",
    "forensis.audit",
    "forensis.cases",
    "forensis.intake",
    "forensis.evidence",
    "forensis.lab",
    "forensis.reports",
    "forensis.deaths",
    "forensis.legacy",
    "forensis.statistics",
    "forensis.api",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

# Background work (the legacy import started from its page) is queued in the database and run by the worker
# that ``forensis serve`` starts beside gunicorn (``forensis db_worker`` runs one on its own).
TASKS = {"default": {"BACKEND": os.environ.get("FORENSIS_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

# The REST API (forensis.api; docs/api.md). JSON only; partner tokens or a signed-in session; every error in one
# JSON shape with a stable code.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "forensis.api.authentication.PartnerTokenAuthentication",
        "forensis.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "forensis.api.base.TokenResourcePermission",
        "forensis.api.base.DjangoPermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["forensis.api.base.PartnerTokenThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "forensis.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "forensis.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Forensis API",
    "DESCRIPTION": "Interagency exchange with the forensic laboratory: submissions, cases, items and custody, "
    "requests, released reports, statistics and a change feed. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ItemTypeEnum": "forensis.evidence.models.ItemType",
        "SubmittedItemTypeEnum": "forensis.api.serializers.SUBMITTED_ITEM_TYPES",
    },
}
#: The largest request body the API reads (bytes); larger ones get 413.
FORENSIS_API_MAX_BODY_BYTES = _env_int("FORENSIS_API_MAX_BODY_BYTES", 1_048_576)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before every middleware that touches the database: 503 "try again" when it does not answer.
    "forensis.core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "forensis.audit.context.AuditSourceMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "forensis.accounts.middleware.MFARequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "forensis.core.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "forensis.urls"
WSGI_APPLICATION = "forensis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "forensis.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {"default": _database(DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions: a 30-minute idle lock (CJIS 5.5.5). Every request pushes the expiry forward.
SESSION_COOKIE_AGE = _env_int("FORENSIS_IDLE_TIMEOUT_MINUTES", 30) * 60
SESSION_ENGINE = "forensis.core.sessions"  # Django's database store; a database outage is a 503, not a 400
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Lockout (django-axes): 5 failures within 15 minutes lock the account and, separately, the address.
AXES_FAILURE_LIMIT = _env_int("FORENSIS_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("FORENSIS_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "forensis.accounts.views.locked_out"
AXES_VERBOSE = False
# The client address for lockout and the audit log. Behind a reverse proxy (FORENSIS_PROXY_COUNT ≥ 1) it is
# taken from X-Forwarded-For; without one only the socket address counts, so a client cannot forge it.
_PROXY_COUNT = _env_int("FORENSIS_PROXY_COUNT", 0)
AXES_IPWARE_PROXY_COUNT = _PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if _PROXY_COUNT else ("REMOTE_ADDR",)

# Multi-factor authentication. Laboratory staff and administrators always need it; officers and
# other outside users when FORENSIS_MFA_FOR_AGENCY_USERS is on. The demo may defer enrolment so a
# first look is quick — the production profile never does.
FORENSIS_MFA_FOR_AGENCY_USERS = _env_bool("FORENSIS_MFA_FOR_AGENCY_USERS", default=True)
FORENSIS_DEFER_MFA_ENROLMENT = (not PRODUCTION) and _env_bool("FORENSIS_DEFER_MFA_ENROLMENT", default=False)
OTP_TOTP_ISSUER = os.environ.get("FORENSIS_MFA_ISSUER", "Forensis")

FORENSIS_CASE_PREFIX = os.environ.get("FORENSIS_CASE_PREFIX", "NFSS").strip().upper()
if not FORENSIS_CASE_PREFIX.isalnum() or len(FORENSIS_CASE_PREFIX) > 10:
    raise ImproperlyConfigured("FORENSIS_CASE_PREFIX must be 1–10 letters or digits, e.g. NFSS.")
# Item labels: the thermal printer's label size in millimetres (default 2 × 1 inch).
FORENSIS_LABEL_WIDTH_MM = _env_float("FORENSIS_LABEL_WIDTH_MM", 50.8)
FORENSIS_LABEL_HEIGHT_MM = _env_float("FORENSIS_LABEL_HEIGHT_MM", 25.4)
FORENSIS_BASE_URL = os.environ.get("FORENSIS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
FORENSIS_LAB_NAME = os.environ.get("FORENSIS_LAB_NAME", "National Forensic Science Service")
# The letterhead of reports: address lines (separated by "|") and a logo (PNG or JPEG file).
FORENSIS_LAB_ADDRESS = os.environ.get("FORENSIS_LAB_ADDRESS", "Ladyville, Belize District, Belize")
FORENSIS_LAB_LOGO = os.environ.get("FORENSIS_LAB_LOGO", "")
#: The most one upload of legacy files (mapping and sources together) may weigh, in megabytes.
FORENSIS_LEGACY_UPLOAD_MB = _env_int("FORENSIS_LEGACY_UPLOAD_MB", 2048)
# The laboratory's signing key and certificate (PEM) for PAdES signatures on reports. `forensis signing-key
# --self-signed` writes a demo pair to these paths; in production point them at the laboratory's real ones.
FORENSIS_SIGNING_KEY = Path(os.environ.get("FORENSIS_SIGNING_KEY", "") or DATA_DIR / "signing" / "key.pem")
FORENSIS_SIGNING_CERT = Path(os.environ.get("FORENSIS_SIGNING_CERT", "") or DATA_DIR / "signing" / "cert.pem")
FORENSIS_SIGNING_KEY_PASSPHRASE = os.environ.get("FORENSIS_SIGNING_KEY_PASSPHRASE", "")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Belize")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone (e.g. America/Belize).") from None

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "files"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# E-mail
# Development keeps outgoing mail as files in the data directory (var/mail), to read without a mail server.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "forensis@localhost")

# Security headers. The content security policy allows only this server's own scripts and styles.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
if PRODUCTION:
    SECURE_SSL_REDIRECT = _env_bool("FORENSIS_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FORENSIS_LOG_LEVEL", "WARNING")},
    # pyHanko logs a traceback for every PDF it cannot trust; the public verification page would let anyone
    # fill the log with them. Its verdicts are returned to the caller instead.
    "loggers": {"pyhanko": {"level": "ERROR"}, "pyhanko_certvalidator": {"level": "ERROR"}},
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"
