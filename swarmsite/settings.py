"""Swarmsite settings, all from the environment (see README: Configuration)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

django_stubs_ext.monkeypatch()  # lets ModelAdmin[Model] etc. be subscripted at runtime

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


DEBUG = env_bool("DEBUG", False)
# No key is published with the code: `make run` keeps a random one in .secret-key (never committed);
# a deployment sets SECRET_KEY. Only a DEBUG run may go without one.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value, for example "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'); `make run` "
            "creates one in .secret-key. Only DEBUG=1 runs without one."
        )
    SECRET_KEY = "debug-only-" + secrets.token_urlsafe(50)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",  # serves Swagger UI from local static files (no CDN on this network)
    "axes",  # login throttling: too many failed logins lock the username and address out for a while
    "swarmsite",
    "stores",
    "identities",
]

MIDDLEWARE = [
    "swarmsite.metrics.RequestMetricsMiddleware",
    "swarmsite.middleware.ApiBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "swarmsite.dashboard.toasts.HtmxMessagesMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Five failed logins for one username from one address lock it out for 15 minutes (django-axes).
AXES_FAILURE_LIMIT = int(os.environ.get("SWARM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=env_float("SWARM_LOGIN_COOLOFF_MIN", 15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("SWARM_PROXY_COUNT", "0"))
# The dashboard loads scripts and styles from this server only (htmx, the live glue, vendored charts);
# inline styles stay allowed for htmx's indicator style and chart libraries. The API docs page, which
# Swagger UI renders with inline script, is exempt (swarmsite/api/assembly.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind HTTPS (SWARM_HTTPS=1, the documented production setting): secure cookies, HSTS, redirects.
SWARM_HTTPS = env_bool("SWARM_HTTPS", False)
if SWARM_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SWARM_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SWARM_HSTS_PRELOAD", True)
    # An API health check over plain HTTP inside the network still answers.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
# Password reset mails: only with a mail server configured (EMAIL_HOST); else those pages are not mounted.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_HOST_CONFIGURED = bool(EMAIL_HOST)
if EMAIL_HOST_CONFIGURED:
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "swarmsite@localhost")

ROOT_URLCONF = "swarmsite.urls"
ASGI_APPLICATION = "swarmsite.asgi.application"
WSGI_APPLICATION = "swarmsite.wsgi.application"

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
                "swarmsite.roles.roles_context",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections: each HTTP pool thread keeps its own (swarmsite/http_bridge.py), checked
        # before reuse after an error or a restart of the database, and recycled after this many seconds.
        conn_max_age=int(os.environ.get("SWARM_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
# Lets several test runs share a machine without sharing a test database.
_TEST_DB_SUFFIX = os.environ.get("SWARM_TEST_DB_SUFFIX", "")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file (not :memory:) so that live-server tests in a child process see the same data;
    # a busy timeout so concurrent writers wait instead of failing with "database is locked";
    # IMMEDIATE transactions so a read-then-write never deadlocks on the lock upgrade.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test_db{_TEST_DB_SUFFIX}.sqlite3")}
    # WAL lets the dashboard read while agents write; synchronous=NORMAL is durable against process
    # crashes (only an OS crash or power loss can lose the last commits), the usual server setting.
    # Writers in one process queue on a lock instead of sleeping in SQLite's busy handler
    # (stores/sqlite_engine/base.py); otherwise Django's own SQLite backend.
    if env_bool("SWARM_SQLITE_WRITER_LOCK", True):
        DATABASES["default"]["ENGINE"] = "stores.sqlite_engine"
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _TEST_DB_SUFFIX:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}{_TEST_DB_SUFFIX}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # redis-py >= 6 reads with a 5 s socket timeout by default, the same 5 s channels-redis blocks in
    # BZPOPMIN: the client then gives up a read the server may just have answered (that message is
    # popped from Redis and lost), or raises inside receive() and the socket closes with 1011.
    # A read timeout well above the blocking read avoids both; keepalive still finds a dead peer.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_keepalive": True}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app and project static folders too, so a server works before collectstatic.
WHITENOISE_USE_FINDERS = True

# HTTP requests run on this many long-lived threads per server process, each with its own persistent
# database connection (0: Django's own ASGI handler, a thread and a connection per request); long-polls
# on up to SWARM_HTTP_WAIT_THREADS threads of their own. See swarmsite/http_bridge.py.
SWARM_HTTP_THREADS = int(os.environ.get("SWARM_HTTP_THREADS", "8"))
SWARM_HTTP_WAIT_THREADS = int(os.environ.get("SWARM_HTTP_WAIT_THREADS", "64"))
# A connection that answered a request less than this long ago is not health-checked again (http_bridge).
SWARM_CONN_HEALTH_IDLE_S = float(os.environ.get("SWARM_CONN_HEALTH_IDLE_S", "1"))

# Verified API tokens are kept in memory this long (revocations reach every process at once regardless:
# swarmsite/token_cache.py); 0 reads the token table on every request.
SWARM_TOKEN_CACHE_S = env_float("SWARM_TOKEN_CACHE_S", 60.0)
SWARM_TOKEN_CACHE_SIZE = int(os.environ.get("SWARM_TOKEN_CACHE_SIZE", "10000"))

# API request bodies above this size get 413 before they are parsed.
SWARM_MAX_BODY_BYTES = int(os.environ.get("SWARM_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = SWARM_MAX_BODY_BYTES

# Liveness and lease knobs (seconds).
SWARM_AGENT_TTL_S = env_float("SWARM_AGENT_TTL_S", 30.0)
SWARM_LEASE_TTL_S = env_float("SWARM_LEASE_TTL_S", 30.0)
SWARM_CLAIM_TTL_S = env_float("SWARM_CLAIM_TTL_S", 60.0)
SWARM_SWEEP_INTERVAL_S = env_float("SWARM_SWEEP_INTERVAL_S", 5.0)
# The Agents page lists online agents and those that went offline or expired within this many seconds;
# the older ones are one click away (until retention prunes them, SWARM_RETENTION_AGENTS_DAYS).
SWARM_AGENTS_RECENT_S = env_float("SWARM_AGENTS_RECENT_S", 3600.0)
# Heartbeats are broadcast live every time but written to the event log at most this often per agent.
SWARM_HEARTBEAT_LOG_INTERVAL_S = env_float("SWARM_HEARTBEAT_LOG_INTERVAL_S", 60.0)
# A server answers the heartbeats of agents it saw online within 0.9 TTL from memory and writes them
# in batches this often (stores/backends/orm/beat_buffer.py); 0 writes each heartbeat before its answer.
# Unset, it is 0.2 s or a tenth of the TTL, whichever is shorter.
SWARM_HEARTBEAT_FLUSH_S = env_float("SWARM_HEARTBEAT_FLUSH_S", min(0.2, SWARM_AGENT_TTL_S / 10))
if not 0 <= SWARM_HEARTBEAT_FLUSH_S <= SWARM_AGENT_TTL_S / 10:
    raise ImproperlyConfigured(
        f"SWARM_HEARTBEAT_FLUSH_S must be between 0 and a tenth of SWARM_AGENT_TTL_S ({SWARM_AGENT_TTL_S / 10:g})"
    )
# Checkpoints kept per identity and generation (older versions of the generation are pruned on save).
SWARM_CHECKPOINT_KEEP = int(os.environ.get("SWARM_CHECKPOINT_KEEP", "20"))

# Retention (swarmsite/retention.py): how long each growing table keeps its rows, in days (0 keeps them
# forever). Finished inbox records are also the idempotency record of keyed sends, so they are kept
# for the longer of the two windows. Outputs are kept forever unless a window is set, and an output a
# kept output names as parent is never pruned.
SWARM_RETENTION_EVENTS_DAYS = env_float("SWARM_RETENTION_EVENTS_DAYS", 7.0)
SWARM_RETENTION_QUEUE_DAYS = env_float("SWARM_RETENTION_QUEUE_DAYS", 7.0)
SWARM_RETENTION_IDEMPOTENCY_DAYS = env_float("SWARM_RETENTION_IDEMPOTENCY_DAYS", 7.0)
SWARM_RETENTION_AUDIT_DAYS = env_float("SWARM_RETENTION_AUDIT_DAYS", 90.0)
SWARM_RETENTION_REJECTIONS_DAYS = env_float("SWARM_RETENTION_REJECTIONS_DAYS", 90.0)
SWARM_RETENTION_AGENTS_DAYS = env_float("SWARM_RETENTION_AGENTS_DAYS", 7.0)
SWARM_RETENTION_OUTPUTS_DAYS = env_float("SWARM_RETENTION_OUTPUTS_DAYS", 0.0)
# Chart buckets: charts read at most the last day, so two days leave a margin (running totals stay).
SWARM_RETENTION_METRICS_DAYS = env_float("SWARM_RETENTION_METRICS_DAYS", 2.0)
# The sweeper prunes at most this often (one process at a time, tracked in the database), in batches of
# SWARM_RETENTION_BATCH rows (one short transaction each) for at most SWARM_RETENTION_BUDGET_S per sweep;
# what is left is picked up by the next sweep. Session vacuum, blob GC and expired logins: daily.
SWARM_RETENTION_INTERVAL_S = env_float("SWARM_RETENTION_INTERVAL_S", 3600.0)
SWARM_RETENTION_BATCH = int(os.environ.get("SWARM_RETENTION_BATCH", "1000"))
SWARM_RETENTION_BUDGET_S = env_float("SWARM_RETENTION_BUDGET_S", 2.0)
SWARM_UPKEEP_INTERVAL_S = env_float("SWARM_UPKEEP_INTERVAL_S", 86400.0)

# Output long-polls wake at once on an append in any process (on PostgreSQL through LISTEN/NOTIFY);
# they also re-check the database this often, the fallback (and the only cross-process path on SQLite).
# A long-poll waits at most SWARM_OUTPUT_WAIT_MAX_S.
SWARM_OUTPUT_POLL_S = env_float("SWARM_OUTPUT_POLL_S", 1.0)
SWARM_OUTPUT_WAIT_MAX_S = env_float("SWARM_OUTPUT_WAIT_MAX_S", 30.0)

# Which backend implements each storage contract (dotted paths; see stores/registry.py).
SWARM_BACKENDS = {
    "lifecycle": "stores.backends.orm.lifecycle.OrmLifecycleStore",
    "outputs": "stores.backends.orm.outputs.OrmOutputStore",
    "runtime": "stores.backends.orm.runtime.OrmRuntimeStore",
    "runtime_persistence": "stores.backends.orm.persistence.OrmRuntimePersistenceFactory",
    "threads": "stores.backends.orm.threads.OrmThreadStore",
    "metrics": "stores.backends.orm.metrics.OrmMetricsRollup",
    # The identity runtime's stores; the lease table is also the fence guard of every fenced write.
    "fence_guard": "identities.backends.orm.leases.OrmFenceGuard",
    "continuity": "identities.backends.orm.continuity.OrmContinuityStore",
    "leases": "identities.backends.orm.leases.OrmLeaseProvider",
    "identity_registry": "identities.backends.orm.registry.OrmIdentityRegistry",
    "prune_ledger": "stores.backends.orm.retention.OrmPruneLedger",
}

# Called with (expired agent records, now) inside the expiry's transaction: what a dead agent held is freed.
SWARM_EXPIRY_HOOKS = [
    "swarmsite.expiry_hooks.free_leases_of_expired_agents",
    "swarmsite.expiry_hooks.release_claims_of_expired_agents",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# /metrics without a token: these client addresses (IPs or CIDR networks, comma-separated). Empty: token only.
SWARM_METRICS_ALLOW = [a for a in os.environ.get("SWARM_METRICS_ALLOW", "").split(",") if a.strip()]
