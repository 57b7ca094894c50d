"""Settings for the clear-down portal.

One file, configured by environment variables only (see `.env.example`). The defaults
give a working portal on one machine with nothing else installed: a SQLite file, a
Celery broker kept in a local folder and emails written to a folder. Production sets
`DATABASE_URL`, `CELERY_BROKER_URL`, `EMAIL_URL`, `SECRET_KEY` and `ALLOWED_HOSTS`.
"""

from __future__ import annotations

import ipaddress
from datetime import date, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from opcc_portal.broker import NETWORK_TRANSPORT_OPTIONS

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def env_int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number from the environment, within its range: anything else stops start-up.

    A malformed number fails in `env.int`; one out of range (no approved groups, a negative
    grace period) would start a portal that quietly misbehaves, so it fails here, by name.
    """
    value = env.int(name, default=default)
    if value < minimum or (maximum is not None and value > maximum):
        expected = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ImproperlyConfigured(f"{name} must be {expected}, not {value}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    """true/false (or yes/no, on/off, 1/0) from the environment: anything else stops start-up.

    django-environ reads any other word as false, which would quietly turn a safeguard off.
    """
    value = env.str(name, default="").strip().lower()
    if not value:
        return default
    if value in {"true", "yes", "on", "1"}:
        return True
    if value in {"false", "no", "off", "0"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_email(name: str) -> str:
    """An email address from the environment, or "" when unset: a malformed one stops start-up."""
    value = env.str(name, default="").strip()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ImproperlyConfigured(f"{name} must be an email address, not {value!r}.") from None
    return value


def env_date(name: str) -> date | None:
    """An ISO date (YYYY-MM-DD) from the environment, or None when unset: anything else stops start-up."""
    value = env.str(name, default="").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date as YYYY-MM-DD, not {value!r}.") from None


# Local state of the embedded defaults (SQLite file, broker folders, mail, uploads).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # local state (SQLite, broker folders, mail) lives here

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (or DEBUG=true for local development only)."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute links in emails are built from this, never from the request's Host header.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "csp",
    "js_lib_bootstrap5",
    "groups",
    "attestations",
    # Tools for developers (benchmarks, bulk seeding, screenshots): management commands only,
    # nothing the portal's pages or tasks import.
    "bench",
]

MIDDLEWARE = [
    # Outermost: gives the request its id and logs one line for it, whatever answers.
    "opcc_portal.observability.request_log",
    # Counts every request and its latency for /metrics (by view name, never by path).
    "opcc_portal.metrics.request_metrics",
    # Then: refuses an oversized body before anything reads it.
    "opcc_portal.security.request_size_limit",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "opcc_portal.security.session_lifetimes",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Records request.user as the author of every history row (R11).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "opcc_portal.urls"
WSGI_APPLICATION = "opcc_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opcc_portal.context_processors.portal",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write to one file at once: WAL lets readers carry on while one
    # writer works, and IMMEDIATE transactions take the write lock up front, so a
    # transaction never fails half way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests use a file too, not SQLite's in-memory database: a real Celery worker thread and
    # the test write at once, which an in-memory shared cache answers with "table is locked".
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that accepts connections and never answers would otherwise hold every
    # request (and the load balancer's /healthz probe) for minutes. libpq's minimum is 2 s.
    # A connect_timeout given in DATABASE_URL's query string wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 2, minimum=2)
    )
    # PostgreSQL's JIT compiles a query its planner thinks costly, and the cost it sees in
    # a page's queries (correlated EXISTS over a thousand groups, counts over a year of
    # rows) is high while the work is a few milliseconds: compiling took 25-30 ms of a
    # 2 ms query, on every page. Off for the portal's connections (`-c jit=off`, added to
    # any options DATABASE_URL gives). Behind PgBouncer, which refuses startup options,
    # set DATABASE_JIT=true and turn it off on the server: ALTER DATABASE … SET jit = off.
    if not env_bool("DATABASE_JIT", False):
        options = DATABASES["default"]["OPTIONS"]
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "opcc_portal.passwords.ZxcvbnValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins before checking
    # Passwords; only superusers' while PASSWORD_SIGN_IN is off.
    "opcc_portal.accounts.PasswordBackend",
    # The office's identity provider (OpenID Connect); does nothing while OIDC_ISSUER is empty.
    "opcc_portal.oidc.OIDCBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Password sign-in. Off: only superusers (IT's break-glass accounts) may sign in with a
# password; everyone else signs in through the identity provider.
PASSWORD_SIGN_IN = env_bool("PASSWORD_SIGN_IN", True)

# --- Sign-in with the office's identity provider (OpenID Connect) ----------------------
# Off while OIDC_ISSUER is empty. The provider's endpoints and signing keys are read from
# its discovery document (<issuer>/.well-known/openid-configuration). For Entra ID the
# issuer is https://login.microsoftonline.com/<tenant id>/v2.0 (README, "Sign-in with
# Microsoft Entra ID"). mozilla-django-oidc runs the flow: authorisation code with PKCE,
# state and nonce checked, the ID token's signature checked against the provider's JWKS.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").strip().rstrip("/")
OIDC_ENABLED = bool(OIDC_ISSUER)
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
if OIDC_ENABLED and not OIDC_ISSUER.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"OIDC_ISSUER must be a URL beginning https://, not {OIDC_ISSUER!r}.")
if OIDC_ENABLED and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too.")
if not PASSWORD_SIGN_IN and not OIDC_ENABLED:
    raise ImproperlyConfigured(
        "PASSWORD_SIGN_IN is off but OIDC_ISSUER is not set: nobody but a superuser could sign in."
    )
# The button on the sign-in page reads "Sign in with <OIDC_PROVIDER_NAME>".
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="your office account")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email profile")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
if OIDC_RP_SIGN_ALGO not in {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}:
    raise ImproperlyConfigured(
        f"OIDC_SIGN_ALGO must be one of RS256/384/512 or ES256/384/512, not {OIDC_RP_SIGN_ALGO!r}."
    )
# The claim that names a person for good: "sub", or Entra ID's "oid" (the same person in
# every app of the tenant). Email addresses change; this does not.
OIDC_SUBJECT_CLAIM = env.str("OIDC_SUBJECT_CLAIM", default="sub")
# A person's first sign-in links them to their existing account, once, by "email" (the
# provider's email claim, when it is verified) or by "username" (OIDC_USERNAME_CLAIM equal
# to the portal's username), or "none" (only accounts linked already, or created below).
OIDC_LINK_BY = env.str("OIDC_LINK_BY", default="email")
if OIDC_LINK_BY not in {"email", "username", "none"}:
    raise ImproperlyConfigured(f"OIDC_LINK_BY must be email, username or none, not {OIDC_LINK_BY!r}.")
OIDC_USERNAME_CLAIM = env.str("OIDC_USERNAME_CLAIM", default="preferred_username")
# Entra ID sends no "email_verified": its emails come from the office's own directory. Set
# this to trust the email claim of a single-tenant provider as verified.
OIDC_TRUST_EMAIL = env_bool("OIDC_TRUST_EMAIL", False)
# A person the portal does not know: refused with a page saying whom to ask (off), or given
# a new account with no role (on).
OIDC_CREATE_USERS = env_bool("OIDC_CREATE_USERS", False)
# Roles from the provider: the claim holding app roles or group ids, and which of its values
# give each role. A role with no values is managed in the portal alone; a role with values
# is the provider's: granted and removed at each sign-in to match the claim.
OIDC_ROLES_CLAIM = env.str("OIDC_ROLES_CLAIM", default="roles")
OIDC_ROLE_VALUES = {
    "DPO": env.list("OIDC_DPO_VALUES", default=[]),
    "Auditor": env.list("OIDC_AUDITOR_VALUES", default=[]),
}
# Seconds to wait for the provider's answer before the sign-in page says it is unreachable.
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1)
# Fixed: the flow's safeguards are not options.
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_VERIFY_KID = True
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"

# --- Locale and time ------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
# Deadlines are computed in the office's local time and stored in UTC.
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files and uploads ---------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Where uploaded logos are kept: `local` (a folder under MEDIA_ROOT: one host, `make run`) or
# `database` (a table, groups.storage: every web host sees every logo, and the database's
# backup holds them). Logos are at most LOGO_MAX_BYTES (≤ 1 MB) either way.
FILE_STORAGE = env.str("FILE_STORAGE", default="local").strip().lower()
FILE_STORAGE_BACKENDS = {
    "local": "django.core.files.storage.FileSystemStorage",
    "database": "groups.storage.DatabaseStorage",
}
if FILE_STORAGE not in FILE_STORAGE_BACKENDS:
    raise ImproperlyConfigured(f"FILE_STORAGE must be local or database, not {FILE_STORAGE!r}.")
STORAGES = {
    "default": {"BACKEND": FILE_STORAGE_BACKENDS[FILE_STORAGE]},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default=(
                "django.contrib.staticfiles.storage.StaticFilesStorage"
                if DEBUG
                else "whitenoise.storage.CompressedManifestStaticFilesStorage"
            ),
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------------------
MAIL_DIR = VAR_DIR / "mail"
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail://")
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    # django-environ reads the path after "filemail://" without its leading slash (an
    # absolute path needs four); without one at all, emails go to var/mail/.
    path = EMAIL_CONFIG.get("EMAIL_FILE_PATH")
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = str(BASE_DIR / path) if path else str(MAIL_DIR)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Clear-down portal <clear-down@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: messages are files in one folder that web, worker and beat share,
    # each written whole before a worker can see it (opcc_portal/broker.py).
    CELERY_BROKER_TRANSPORT = "opcc_portal.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Give up quickly when the broker is down or silent: the web request must not hang on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(NETWORK_TRANSPORT_OPTIONS)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often the sweep and the worker's heartbeat run; /healthz/status calls each stale after
# two of its intervals. The sweep's minutes must divide an hour (a crontab step).
SWEEP_MINUTES = env_int("SWEEP_MINUTES", 15, minimum=1, maximum=60)
HEARTBEAT_MINUTES = 5
if 60 % SWEEP_MINUTES:
    raise ImproperlyConfigured(
        f"SWEEP_MINUTES must divide an hour (1, 2, 3, 5, 10, 15, 20, 30, 60), not {SWEEP_MINUTES}."
    )
# Every periodic job lives here, with when it runs and why. Run ONE beat process only:
# the tasks are safe to run twice, but one beat keeps the emails on time and the logs clean.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Every 15 minutes: close the cycles whose period has ended, raise overdue and
    # missed-prompt flags, resolve settled flags, then queue the reminders, the admin
    # digests and the DPO escalations due (R4, R5, R8); then the holds' step: notices to
    # members who joined a held group, one reminder and one escalation for unacknowledged
    # notices, the DPO's review of long holds (R9). Cheap when there is nothing to do;
    # after downtime the first run catches up with one digest per admin, not one per run.
    "sweep": {
        "task": "attestations.tasks.sweep",
        "schedule": crontab(minute=f"*/{SWEEP_MINUTES}"),
    },
    # Every 5 minutes: a tiny task that records when a worker last ran something, so
    # /healthz/status can tell a stopped worker from a quiet one. A heartbeat not run within
    # its interval (no worker) expires rather than piling up for the next worker.
    "heartbeat": {
        "task": "attestations.tasks.heartbeat",
        "schedule": timedelta(minutes=HEARTBEAT_MINUTES),
        "options": {"expires": HEARTBEAT_MINUTES * 60},
    },
    # Mondays at 08:00 UK time: the DPO's weekly summary (compliance this week and last,
    # groups below SUMMARY_THRESHOLD_PERCENT, holds standing), ready for the start of the week.
    "dpo-summary": {
        "task": "attestations.tasks.send_dpo_summaries",
        "schedule": crontab(minute=0, hour=8, day_of_week="mon"),
    },
    # Daily at 03:40 UK time, when nobody attests: dispose of the portal's own records past
    # their retention period (R18), in small batches, skipping anything a hold covers. A run
    # that finds another still going does nothing.
    "retention": {
        "task": "attestations.tasks.retention",
        "schedule": crontab(minute=40, hour=3),
    },
}

# --- Policy knobs (docs/rules.md: R3, R4, R8) ----------------------------------------------
MAX_APPROVED_GROUPS = env_int("MAX_APPROVED_GROUPS", 12, minimum=1)
CLEAR_DOWN_GRACE_HOURS = env_int("CLEAR_DOWN_GRACE_HOURS", 48, minimum=1)
ESCALATE_AFTER_HOURS = env_int("ESCALATE_AFTER_HOURS", 72, minimum=0)
# The admin's prompt is due this many hours after a period ends (R5), and never after the
# members' deadline. Like the deadline, it is counted on the UK wall clock.
CLEAR_DOWN_PROMPT_HOURS = env_int("CLEAR_DOWN_PROMPT_HOURS", 24, minimum=0)
# Every approved group is reviewed this many months after its approval and after each
# signed-off review (R16); the DPO may set another interval for one group.
GROUP_REVIEW_MONTHS = env_int("GROUP_REVIEW_MONTHS", 6, minimum=1, maximum=24)
# How long the signed "confirm your clear-down" link in a prompt email stays valid.
ATTEST_LINK_MAX_AGE_DAYS = env_int("ATTEST_LINK_MAX_AGE_DAYS", 14, minimum=1)
# Off: the signed link alone lets its owner confirm that one clear-down, with no sign-in (it
# opens nothing else and makes no session). On: the member signs in first, as before.
ATTEST_LINK_SIGN_IN_REQUIRED = env.bool("ATTEST_LINK_SIGN_IN_REQUIRED", default=False)
# The calendar feed (issue 15): each deadline's alarm goes off this many hours before it,
# and the feed looks this many weeks ahead on each group's schedule.
CALENDAR_ALARM_HOURS = env_int("CALENDAR_ALARM_HOURS", 24, minimum=0, maximum=168)
CALENDAR_WEEKS_AHEAD = env_int("CALENDAR_WEEKS_AHEAD", 8, minimum=1, maximum=52)
# Schedule and email (R8): members are reminded this many hours before their deadline; the
# weekly summary lists groups whose compliance is below this percentage; an email is tried
# this many times (backoff from EMAIL_RETRY_SECONDS, doubling) before it is recorded as
# failed; an email still pending after EMAIL_REQUEUE_MINUTES (its task lost) is queued again.
REMINDER_LEAD_HOURS = env_int("REMINDER_LEAD_HOURS", 24, minimum=0)
SUMMARY_THRESHOLD_PERCENT = env_int("SUMMARY_THRESHOLD_PERCENT", 80, minimum=0, maximum=100)
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 4, minimum=1)
EMAIL_RETRY_SECONDS = env_int("EMAIL_RETRY_SECONDS", 60, minimum=0)
EMAIL_REQUEUE_MINUTES = env_int("EMAIL_REQUEUE_MINUTES", 15, minimum=1)
# From this many emails decided at once, they are queued in tasks of this many each.
EMAIL_QUEUE_BATCH = env_int("EMAIL_QUEUE_BATCH", 50, minimum=2)
# Holds (R9, issue 20): a member who has not acknowledged a hold notice is reminded once
# after HOLD_ACK_REMINDER_HOURS and reported to the DPO once after HOLD_ACK_ESCALATE_HOURS;
# the DPO is asked to review a hold that has stood HOLD_REVIEW_DAYS, once per such period.
# The signed "acknowledge" link in the notice stays valid for HOLD_ACK_LINK_MAX_AGE_DAYS.
HOLD_ACK_REMINDER_HOURS = env_int("HOLD_ACK_REMINDER_HOURS", 24, minimum=1)
HOLD_ACK_ESCALATE_HOURS = env_int("HOLD_ACK_ESCALATE_HOURS", 48, minimum=1)
HOLD_REVIEW_DAYS = env_int("HOLD_REVIEW_DAYS", 90, minimum=1)
HOLD_ACK_LINK_MAX_AGE_DAYS = env_int("HOLD_ACK_LINK_MAX_AGE_DAYS", 30, minimum=1)
# Policy versions (R15): each member of an approved group acknowledges the current version
# within POLICY_ACK_DAYS of its publication (or of their joining, if later). With
# POLICY_ACK_BEFORE_JOINING, a person added to a group joins only once they have acknowledged
# it: until then the add is pending and they owe no clear-downs. An uploaded policy PDF is at
# most POLICY_PDF_MAX_BYTES.
POLICY_ACK_DAYS = env_int("POLICY_ACK_DAYS", 14, minimum=1)
POLICY_ACK_BEFORE_JOINING = env_bool("POLICY_ACK_BEFORE_JOINING", False)
# Files kept in the database (FILE_STORAGE=database) are at most 1 MB a row, the PDF included.
_PDF_MAX = 1024 * 1024 if FILE_STORAGE == "database" else 50 * 1024 * 1024
POLICY_PDF_MAX_BYTES = env_int("POLICY_PDF_MAX_BYTES", min(5 * 1024 * 1024, _PDF_MAX), minimum=1024, maximum=_PDF_MAX)
# A logo stored in the database is one row: at most 1 MB (FILE_STORAGE=database).
LOGO_MAX_BYTES = env_int("LOGO_MAX_BYTES", 1024 * 1024, minimum=1, maximum=1024 * 1024)
LOGO_MAX_PIXELS = env_int("LOGO_MAX_PIXELS", 2000, minimum=1)
ORGANISATION_NAME = env.str("ORGANISATION_NAME", default="Office of the Police and Crime Commissioner")

# --- Legal pages (privacy notice, accessibility statement, cookies) -------------------
# The office's own details, shown on the legal pages. Each is empty until the office sets
# it: the page then says "not yet configured" rather than show invented text.
DPO_NAME = env.str("DPO_NAME", default="")
DPO_EMAIL = env_email("DPO_EMAIL")
DPO_PHONE = env.str("DPO_PHONE", default="")
ORGANISATION_ADDRESS = env.str("ORGANISATION_ADDRESS", default="")
# The controller's entry in the ICO's register of fee payers (e.g. Z1234567).
ICO_REGISTRATION_NUMBER = env.str("ICO_REGISTRATION_NUMBER", default="")
ACCESSIBILITY_CONTACT_EMAIL = env_email("ACCESSIBILITY_CONTACT_EMAIL")
ACCESSIBILITY_CONTACT_PHONE = env.str("ACCESSIBILITY_CONTACT_PHONE", default="")
# When the office prepared the three pages and when it last reviewed them (ISO dates).
LEGAL_PREPARED_ON = env_date("LEGAL_PREPARED_ON")
LEGAL_REVIEWED_ON = env_date("LEGAL_REVIEWED_ON")
if LEGAL_PREPARED_ON and LEGAL_REVIEWED_ON and LEGAL_REVIEWED_ON < LEGAL_PREPARED_ON:
    raise ImproperlyConfigured(
        "LEGAL_REVIEWED_ON must not be before LEGAL_PREPARED_ON: a page is reviewed after it is written."
    )


# How long the portal keeps each kind of its own records (R18), in days, each counted from
# when the record stopped mattering (`attestations/retention.py` says from when, kind by
# kind); None ("keep") means the job never disposes of that kind. The privacy notice, the
# retention page and the disposal job all read this one structure, so they never disagree.
# Records of a group under a hold, or a hold lifted less than the period ago, are kept
# whatever their period (R9). The README's "Retention" section gives the reasons for each
# default. Each is set by RETENTION_<KIND>_DAYS: a number of days, or "keep".
def env_retention(name: str, default: int | None) -> int | None:
    value = env.str(name, default="").strip().lower()
    if not value:
        return default
    if value == "keep":
        return None
    try:
        days = int(value)
    except ValueError:
        raise ImproperlyConfigured(f'{name} must be a number of days or "keep", not {value!r}.') from None
    if days < 1:
        raise ImproperlyConfigured(f'{name} must be at least 1 day (or "keep"), not {days}.')
    return days


RETENTION: dict[str, int | None] = {
    # Clear-down weeks and attestations: cycles, each person's obligation and what they
    # attested, excuses, and the ledger entry that seals each attestation; from the week's
    # deadline. Three years: this year and two more of evidence for FOI and the ICO.
    "clear_downs": env_retention("RETENTION_CLEAR_DOWNS_DAYS", 3 * 365),
    # The record of every email sent (recipient, subject, when, result); never the body;
    # from when it was made. One year: long enough to answer "was I told?".
    "emails": env_retention("RETENTION_EMAILS_DAYS", 365),
    # Overdue and missed-prompt flags, with when they were reported and escalated; from
    # when the flag was settled (an open flag is never disposed of). Two years.
    "flags": env_retention("RETENTION_FLAGS_DAYS", 2 * 365),
    # FOI and legal holds: reference, reason, who placed and lifted them; from the lift
    # (a standing hold is never disposed of). Six years, the time a claim can be brought.
    "holds": env_retention("RETENTION_HOLDS_DAYS", 6 * 365),
    # The register's change history: groups, memberships, who changed what and why. Kept
    # as long as the register: it is the record of which groups the office allowed.
    "register_history": env_retention("RETENTION_REGISTER_HISTORY_DAYS", None),
    # Who exported which records, when, with the file's size and checksum; from the export.
    # Three years, as long as the clear-downs it may have taken.
    "export_logs": env_retention("RETENTION_EXPORT_LOGS_DAYS", 3 * 365),
    # Sign-ins, sign-outs, failed sign-ins and lock-outs (django-axes): username, address,
    # browser; from the attempt. One year of security log.
    "sign_ins": env_retention("RETENTION_SIGN_INS_DAYS", 365),
    # A person's secret calendar address (its token); from the closing of their account (a
    # leaver's feed already answers nothing). Thirty days: time to reopen an account closed
    # by mistake without every calendar having to be set up again.
    "calendar_feeds": env_retention("RETENTION_CALENDAR_FEEDS_DAYS", 30),
}
for _kind, _days in RETENTION.items():
    if _days is not None and (not isinstance(_days, int) or _days < 1):
        raise ImproperlyConfigured(f"RETENTION[{_kind!r}] must be a number of days (at least 1) or None.")
# Flags, emails and export logs of a clear-down go with it: none may outlive it.
for _kind in ("flags", "emails"):
    if RETENTION["clear_downs"] is not None and (
        RETENTION[_kind] is None or RETENTION[_kind] > RETENTION["clear_downs"]
    ):
        raise ImproperlyConfigured(
            f"RETENTION_{_kind.upper()}_DAYS must not be longer than RETENTION_CLEAR_DOWNS_DAYS: "
            f"they are disposed of with the clear-downs they are about."
        )
# The disposal job: at most this many records (of one kind) per transaction, so no lock is
# held for long; false makes every scheduled run a dry run (records what would go, removes
# nothing), for an office that wants to read the figures before the first disposal.
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 1000, minimum=1, maximum=50_000)
RETENTION_DISPOSE = env_bool("RETENTION_DISPOSE", True)
# --- Health ---------------------------------------------------------------------------
# /healthz/status (database, broker, worker, beat) is open when this is empty: it names no
# person and holds no record, only whether each part runs and when it last did. Set a token
# when the portal is reachable from outside the office network; monitoring then sends
# `Authorization: Bearer <token>`. /healthz (liveness, for the load balancer) is always open.
HEALTH_STATUS_TOKEN = env.str("HEALTH_STATUS_TOKEN", default="")
# /metrics, for a Prometheus scraper: off (404) while this is empty; when set, the scraper
# sends `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: …}`).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters: it guards the metrics from guessing.")

# --- Staff lifecycle (R14) ---------------------------------------------------------------
# The SCIM 2.0 endpoint (<SITE_URL>/scim/v2/) through which the office's directory (Entra ID,
# Okta) creates, updates and closes staff accounts. Off (404) while this is empty; the
# directory sends `Authorization: Bearer <token>`. Use a long random value (32+ characters).
SCIM_TOKEN = env.str("SCIM_TOKEN", default="").strip()
if SCIM_TOKEN and len(SCIM_TOKEN) < 32:
    raise ImproperlyConfigured("SCIM_TOKEN must be at least 32 characters long (or empty to turn SCIM off).")
# The largest staff list (CSV) the DPO may import at once.
STAFF_IMPORT_MAX_BYTES = env_int("STAFF_IMPORT_MAX_BYTES", 1024 * 1024, minimum=1024)

# --- Security -------------------------------------------------------------------------
HTTPS = SITE_URL.startswith("https://")
# Sessions end after this many seconds without a request (sliding expiry)...
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 2, minimum=60)
# ... renewed by a signed-in request at most once in this many seconds
# (`security.session_lifetimes`), not written on every request: a session ends between
# SESSION_COOKIE_AGE minus this and SESSION_COOKIE_AGE after its last request.
SESSION_REFRESH_SECONDS = env_int("SESSION_REFRESH_SECONDS", 60, minimum=0, maximum=SESSION_COOKIE_AGE // 2)
# ... and this many seconds after signing in, however active the session has been.
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 60 * 60 * 12, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
# The client's address behind a reverse proxy (lock-outs, sign-in records, logs): how many
# proxies append to X-Forwarded-For, and/or which addresses they connect from. With neither
# set the header is ignored and the connection's own address is used.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or network (e.g. 10.0.0.5 or 10.0.0.0/24)."
        ) from None
# The largest legitimate request is a logo upload with its form, or a staff list's preview
# sent back to be imported (the file signed and encoded: up to twice its size); anything
# larger is refused with 413 before it is read. Uploads up to that size stay in memory (never a temporary file).
REQUEST_MAX_BYTES = max(LOGO_MAX_BYTES, 2 * STAFF_IMPORT_MAX_BYTES, POLICY_PDF_MAX_BYTES) + 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: everything from our own origin, no inline script or style, no
# third parties. `data:` images are Bootstrap's own SVG icons inside its CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES; after
# AXES_ADDRESS_FAILURE_LIMIT failures from one address, whatever the usernames (password
# spraying), the whole address is.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "opcc_portal.security.AxesHandler"
# Password-reset emails for one email address requested from one client address, per hour.
# Counted in the cache (CACHES): per process unless a shared cache is configured.
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 3, minimum=1)
AXES_CLIENT_IP_CALLABLE = "opcc_portal.security.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Error reports to Sentry, off unless SENTRY_DSN is set. No personal data is sent: no
# cookies, bodies, query strings, local variables or breadcrumbs (log lines may name people),
# and the user as an account number only (observability.sentry_scrub). Errors only: no
# performance tracing.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from opcc_portal.observability import sentry_scrub

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_breadcrumbs=0,
        max_request_body_size="never",
        traces_sample_rate=0,
        before_send=sentry_scrub,
    )

# Logs go to standard error, as plain text (`text`, the default) or as one JSON object per
# line (`json`) for a log shipper; every line carries the request's id (observability.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "opcc_portal.observability.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(task)s %(task_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # django-axes logs every successful login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # One line per request (observability.request_log): INFO unless LOG_REQUESTS=false.
        "opcc_portal.requests": {"level": "INFO" if env_bool("LOG_REQUESTS", True) else "WARNING"},
    },
}
