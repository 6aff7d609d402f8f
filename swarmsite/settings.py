"""Swarmsite settings, all from the environment (see README: Configuration)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext

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
# The default key is only for a local checkout; any deployment sets SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "swarmsite-insecure-local-development-key-change-me")
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
    "swarmsite",
    "stores",
    "identities",
]

MIDDLEWARE = [
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
]

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
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0
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
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
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

# API request bodies above this size get 413 before they are parsed.
SWARM_MAX_BODY_BYTES = int(os.environ.get("SWARM_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = SWARM_MAX_BODY_BYTES

# Liveness and lease knobs (seconds).
SWARM_AGENT_TTL_S = env_float("SWARM_AGENT_TTL_S", 30.0)
SWARM_LEASE_TTL_S = env_float("SWARM_LEASE_TTL_S", 30.0)
SWARM_CLAIM_TTL_S = env_float("SWARM_CLAIM_TTL_S", 60.0)
SWARM_SWEEP_INTERVAL_S = env_float("SWARM_SWEEP_INTERVAL_S", 5.0)
# Heartbeats are broadcast live every time but written to the event log at most this often per agent.
SWARM_HEARTBEAT_LOG_INTERVAL_S = env_float("SWARM_HEARTBEAT_LOG_INTERVAL_S", 60.0)
# Checkpoints kept per identity and generation (older versions of the generation are pruned on save).
SWARM_CHECKPOINT_KEEP = int(os.environ.get("SWARM_CHECKPOINT_KEEP", "20"))

# Output long-polls wake at once on an append in the same process; waiters in other processes
# re-check the database this often. A long-poll waits at most SWARM_OUTPUT_WAIT_MAX_S.
SWARM_OUTPUT_POLL_S = env_float("SWARM_OUTPUT_POLL_S", 1.0)
SWARM_OUTPUT_WAIT_MAX_S = env_float("SWARM_OUTPUT_WAIT_MAX_S", 30.0)

# Which backend implements each storage contract (dotted paths; see stores/registry.py).
SWARM_BACKENDS = {
    "lifecycle": "stores.backends.orm.lifecycle.OrmLifecycleStore",
    "outputs": "stores.backends.orm.outputs.OrmOutputStore",
    "runtime": "stores.backends.orm.runtime.OrmRuntimeStore",
    "runtime_persistence": "stores.backends.orm.persistence.OrmRuntimePersistenceFactory",
    "metrics": "stores.backends.orm.metrics.OrmMetricsRollup",
    # The identity runtime's stores; the lease table is also the fence guard of every fenced write.
    "fence_guard": "identities.backends.orm.leases.OrmFenceGuard",
    "continuity": "identities.backends.orm.continuity.OrmContinuityStore",
    "leases": "identities.backends.orm.leases.OrmLeaseProvider",
    "identity_registry": "identities.backends.orm.registry.OrmIdentityRegistry",
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
