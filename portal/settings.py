"""Steward settings. Every knob comes from an environment variable; `.env.example` documents them.

Defaults are safe and embedded: SQLite and a filesystem Celery broker under `var/`, DEBUG off.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from .env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("STEWARD_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY and (VAR_DIR / "secret_key").is_file():
    # The key `./scripts/run` made for this checkout, so `manage.py` works there as it is.
    SECRET_KEY = (VAR_DIR / "secret_key").read_text().strip()
if not SECRET_KEY:
    if not DEBUG and not envbool("STEWARD_ALLOW_INSECURE_KEY", False):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and there is no {VAR_DIR / 'secret_key'}. Set it, or set DEBUG=true / STEWARD_ALLOW_INSECURE_KEY=true "
            "for local use."
        )
    SECRET_KEY = "insecure-local-only-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files, no CDN
    "axes",
    # Ours, bottom of the house first.
    "audit",
    "core",
    "registry",
    "governance",
    "abtests",
    "monitoring",
    "mlflow_api",
    "privacy",
    "fairness",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    # JSON errors under /api/ whatever raised them (needs the request id set just above).
    "core.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Signed in without a role: every portal page answers 403, as the API does.
    "portal.middleware.RoleRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'steward.sqlite3'}"),
        # Persistent connections: opening one costs more than a point read (docs/benchmarks.md);
        # the health check replaces a connection the database dropped.
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web and worker write concurrently. WAL lets readers go on beside a writer; IMMEDIATE
    # transactions take the write lock at BEGIN, so a writer waits (up to the timeout) instead of
    # failing with "database is locked" when it upgrades from reading to writing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
    )
    # Tests use a file, not SQLite's in-memory default: a real worker process (tests marked
    # `worker`) must see the same database, and threads take turns like the web and worker do.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-steward.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Sessions expire after inactivity; CSRF everywhere.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
X_FRAME_OPTIONS = "DENY"

# Behind a TLS-terminating proxy (production): redirect http to https, HSTS, trust the proxy's
# X-Forwarded-Proto. Off for the local run and tests, which speak plain http. `manage.py check
# --deploy` is clean with STEWARD_HTTPS=true, DEBUG=false and a real SECRET_KEY
# (tests/core/test_production_settings.py).
STEWARD_HTTPS = envbool("STEWARD_HTTPS", False)
SECURE_SSL_REDIRECT = STEWARD_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's probe speaks http
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if STEWARD_HTTPS else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if STEWARD_HTTPS else 0)
# Steward is meant to have a host name of its own; set these false if its parent domain has
# subdomains still on plain http.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", STEWARD_HTTPS)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", STEWARD_HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True  # X-Content-Type-Options: nosniff
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): our own scripts only, no inline script; inline style
# attributes are allowed (the admin and Swagger UI set some); no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# django-axes: lock an account/IP pair out after repeated failures.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = envbool("AXES_ENABLED", True)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"  # a page in words, not a bare 429

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": envstr(
            "STATICFILES_STORAGE",
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

# Artifact uploads are streamed to a temporary file in chunks; never held whole in memory.
ARTIFACT_MAX_BYTES = envint("ARTIFACT_MAX_BYTES", 512 * 1024 * 1024)
EVENTS_MAX_BYTES = envint("EVENTS_MAX_BYTES", 256 * 1024 * 1024)  # one experiment event upload (413 beyond)
# Largest evaluation set for a bias report (400 beyond; nothing stored).
FAIRNESS_MAX_BYTES = envint("FAIRNESS_MAX_BYTES", 512 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = envint("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 50 * 1024 * 1024)

# Bounds on what the API accepts in a body (core/limits.py; docs/api.md "Limits"). Past them the
# answer is 400 naming the field (413 for the whole body past DATA_UPLOAD_MAX_MEMORY_SIZE).
STEWARD_API_MAX_STRING_CHARS = envint("STEWARD_API_MAX_STRING_CHARS", 65_536)
STEWARD_API_MAX_JSON_KEYS = envint("STEWARD_API_MAX_JSON_KEYS", 1_000)
STEWARD_API_MAX_JSON_ITEMS = envint("STEWARD_API_MAX_JSON_ITEMS", 10_000)
STEWARD_API_MAX_JSON_DEPTH = envint("STEWARD_API_MAX_JSON_DEPTH", 20)
STEWARD_API_MAX_JSON_NODES = envint("STEWARD_API_MAX_JSON_NODES", 100_000)
# Seconds a client should wait before retrying a 503 (database unavailable).
STEWARD_API_RETRY_AFTER = envint("STEWARD_API_RETRY_AFTER", 5)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.IsStewardUser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "core.limits.JSONParser",
        "core.limits.FormParser",
        "core.limits.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Scripts (API tokens) and anonymous callers are rate-limited; people in the portal are not.
    # 50 requests a second per token: a training loop logging every step stays under it, a
    # runaway script does not.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.TokenRateThrottle", "core.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": envstr("API_THROTTLE_TOKEN", "3000/minute"),
        "anon": envstr("API_THROTTLE_ANON", "60/minute"),
    },
}
# Throttle counters live in the cache: per process by default, shared when CACHE_URL names a
# Redis (production: redis://redis:6379/1).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": envstr("CACHE_URL")}
        if envstr("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Steward API",
    "DESCRIPTION": "Model registry and governance portal. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One name per choice set, however many serializers use it.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"StageEnum": "registry.models.Stage", "MetricTypeEnum": "abtests.models.Experiment.MetricType"},
}

# Celery: JSON only, late acks (our tasks are idempotent), bounded time.
# The filesystem transport ignores the host; naming one keeps kombu from warning about it.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600)}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in CELERY_BROKER_TRANSPORT_OPTIONS.values():
        if isinstance(_folder, str):
            Path(_folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Background jobs (core.jobs, docs/operations.md "Background jobs"): a running job's worker
# writes a heartbeat every STEWARD_JOB_HEARTBEAT_SECONDS; every STEWARD_JOB_SWEEP_SECONDS beat
# sends again a running job silent for STEWARD_JOB_DEAD_AFTER (its worker died) and a pending job
# sent longer than STEWARD_JOB_PENDING_GRACE ago (its message was lost); a job claimed
# STEWARD_JOB_MAX_ATTEMPTS times without finishing is failed.
STEWARD_JOB_HEARTBEAT_SECONDS = envint("STEWARD_JOB_HEARTBEAT_SECONDS", 10)
STEWARD_JOB_DEAD_AFTER = envint("STEWARD_JOB_DEAD_AFTER", 60)
STEWARD_JOB_SWEEP_SECONDS = envint("STEWARD_JOB_SWEEP_SECONDS", 30)

STEWARD_JOB_PENDING_GRACE = envint("STEWARD_JOB_PENDING_GRACE", 5 * 60)
STEWARD_JOB_MAX_ATTEMPTS = envint("STEWARD_JOB_MAX_ATTEMPTS", 3)

# Data-subject keys are stored as HMAC-SHA256 with this secret (never the raw identifiers).
# Keep it stable: changing it makes stored key indexes unmatchable. Defaults to SECRET_KEY.
STEWARD_SUBJECT_KEY_SECRET = envstr("STEWARD_SUBJECT_KEY_SECRET", "") or SECRET_KEY

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))  # for the file backend
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "steward@localhost")
STEWARD_BASE_URL = envstr("STEWARD_BASE_URL", "http://127.0.0.1:8000")
# Where people review a promotion request (the portal's page); used in notification links.
STEWARD_PROMOTION_PAGE_PATH = "/promotions/{id}/"
# Optional outgoing webhook for governance events, signed with HMAC-SHA256 of the body.
STEWARD_WEBHOOK_URL = envstr("STEWARD_WEBHOOK_URL", "")
STEWARD_WEBHOOK_SECRET = envstr("STEWARD_WEBHOOK_SECRET", "")

# The audit trail's signed checkpoints (`audit.checkpoints`): outside the database, keyed with a
# secret that is not in the database either. See docs/operations.md, "Audit checkpoints".
STEWARD_AUDIT_CHECKPOINT_FILE = envstr("STEWARD_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit" / "checkpoints.jsonl"))
STEWARD_AUDIT_CHECKPOINT_KEY = envstr("STEWARD_AUDIT_CHECKPOINT_KEY", "")
STEWARD_AUDIT_CHECKPOINT_KEY_FILE = envstr("STEWARD_AUDIT_CHECKPOINT_KEY_FILE", str(VAR_DIR / "audit" / "checkpoint.key"))
STEWARD_AUDIT_CHECKPOINT_INTERVAL = envint("STEWARD_AUDIT_CHECKPOINT_INTERVAL", 300)

# Every periodic task, in one place (Celery beat). Each task takes ids or nothing, claims its work
# and may run twice without harm.
CELERY_BEAT_SCHEDULE: dict = {
    # Dead workers' jobs and lost messages are sent again (docs/operations.md, "Background jobs").
    "core-jobs-redispatch": {"task": "core.tasks.jobs_redispatch_task", "schedule": STEWARD_JOB_SWEEP_SECONDS},
    # Seal events written while the chain was busy and sign a checkpoint of the chain's head.
    "audit-seal-and-checkpoint": {
        "task": "audit.tasks.audit_checkpoint_task", "schedule": float(STEWARD_AUDIT_CHECKPOINT_INTERVAL),
    },
    # Periodic reviews that fell due (the tier's review interval).
    "governance-open-due-reviews": {
        "task": "governance.tasks.reviews_open_due_task", "schedule": crontab(minute=15, hour="*/6"),
    },
    # Experiments whose planned looks are reached get their analysis.
    "abtests-analyses-due": {"task": "abtests.tasks.analyses_due_task", "schedule": 15 * 60},
    # Scheduled drift checks: every tick, queue those whose per-version schedule fell due.
    "monitoring-checks-due": {
        "task": "monitoring.tasks.checks_due_task", "schedule": envint("STEWARD_MONITORING_TICK", 60),
    },
    # Datasets whose retention date passed open retraining obligations (docs/privacy.md).
    "privacy-retention-passed": {"task": "privacy.tasks.retention_obligations_task", "schedule": 6 * 60 * 60},
}
# PostgreSQL: the role the app runs as, which `migrate` (run as the owner) grants what it needs:
# read and insert on the audit table, nothing more (docs/operations.md, "Database roles").
STEWARD_DB_APP_ROLE = envstr("STEWARD_DB_APP_ROLE", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused request (403, 404…) is logged in one line; tracebacks are for server errors.
    "filters": {"no_client_error_tracebacks": {"()": "core.logging.NoClientErrorTracebacks"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["no_client_error_tracebacks"]}
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
