from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.test import Client

from swarmsite import composition as registry


def pytest_configure(config: pytest.Config) -> None:
    # Live-server children must not inherit asgiref's executor thread (fork hangs websocket connects).
    multiprocessing.set_start_method("spawn", force=True)
    _own_redis_database()


def _own_redis_database() -> None:
    """Under `make test` the suite runs in several processes (pytest-xdist): each gets its own Redis
    database, inherited by the servers it starts, so one process's live events never reach another's
    clients (databases get their own names from pytest-django the same way)."""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("REDIS_URL", "")
    if not worker.startswith("gw") or not url:
        return
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{base + int(worker[2:])}"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end sessions that worker threads (asgiref's executor,
    race tests) left open, or PostgreSQL refuses to drop it."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _fresh_backends(settings: object) -> Iterator[None]:
    """Backends are cached per process; rebuild them so each test sees its own settings."""
    registry.reset()
    yield
    registry.reset()


@pytest.fixture(autouse=True)
def _in_memory_layer(settings: object) -> Iterator[None]:
    """Unit tests publish to an in-memory channel layer, whatever REDIS_URL says."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}  # type: ignore[attr-defined]
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def token_client(scope: str = "agent") -> Client:
    from swarmsite.models import ApiToken

    _, secret = ApiToken.issue(f"test-{scope}", scope)
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def api(db: None) -> Client:
    """A client authenticated with an agent-scope token."""
    return token_client("agent")


@pytest.fixture
def operator_api(db: None) -> Client:
    return token_client("operator")


@pytest.fixture
def admin_api(db: None) -> Client:
    return token_client("admin")


def user_with_role(role: str, username: str | None = None) -> object:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username or f"{role}-user", password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=role)[0])  # transactional tests flush the data migration
    return user


@pytest.fixture
def viewer_client(db: None) -> Client:
    client = Client()
    client.force_login(user_with_role("viewer"))  # type: ignore[arg-type]
    return client


@pytest.fixture
def operator_client(db: None) -> Client:
    client = Client()
    client.force_login(user_with_role("operator"))  # type: ignore[arg-type]
    return client
