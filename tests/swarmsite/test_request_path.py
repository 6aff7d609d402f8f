"""The HTTP request path as agents meet it: two server processes on one database (SQLite file, or
PostgreSQL on CI's second pass). Tokens are verified from memory, so a revocation must still reach
every process at once; database connections must be reused, not opened per request; bodies above
the limit, chunked bodies and long-polls must behave as before."""

from __future__ import annotations

import functools
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.swarmclient.live import PY, ROOT, free_port, healthy, wait_until

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgres")

pytestmark = pytest.mark.timeout(180)
HTTP_THREADS = 8  # SWARM_HTTP_THREADS' default: each pool thread keeps its own connection


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([PY, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SWARM_TEST_DB_SUFFIX"}}
    if ON_POSTGRES:
        name = f"swarm_request_path{os.environ.get('SWARM_TEST_DB_SUFFIX', '')}"
        base = DATABASE_URL.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{base}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('request-path')}/live.sqlite3"
    env.update(DJANGO_SETTINGS_MODULE="swarmsite.settings", SWARM_SWEEP_INTERVAL_S="0", SWARM_MAX_BODY_BYTES="4096",
               SWARM_OUTPUT_WAIT_MAX_S="3")
    manage(env, "migrate", "--noinput", "-v0")
    urls, procs = [], []
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen([PY, "-m", "daphne", "-p", str(port), "swarmsite.asgi:application"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until(functools.partial(healthy, url), 60, url)
        yield {"urls": urls, "env": env}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_revoked_token_is_refused_by_every_process_at_once(servers: dict[str, Any]) -> None:
    secret = manage(servers["env"], "create_api_token", "revoked-soon", "--scope", "agent")
    for _ in range(3):  # verified, then served from each process's memory
        for url in servers["urls"]:
            assert httpx.post(f"{url}/api/v1/noop", headers=bearer(secret)).status_code == 200
    # Revoked from a third process (as an admin's command would), not through either server.
    assert manage(servers["env"], "revoke_api_token", "revoked-soon") == "revoked 1 token(s)"
    for url in servers["urls"]:
        answer = httpx.post(f"{url}/api/v1/noop", headers=bearer(secret))
        assert answer.status_code == 401, (url, answer.text)
        assert answer.json()["code"] == "unauthorized"


def test_a_token_issued_later_is_accepted_at_once(servers: dict[str, Any]) -> None:
    secret = manage(servers["env"], "create_api_token", "issued-later", "--scope", "agent")
    for url in servers["urls"]:
        assert httpx.post(f"{url}/api/v1/noop", headers=bearer(secret)).status_code == 200


@pytest.mark.skipif(not ON_POSTGRES, reason="server backends are visible in pg_stat_activity on PostgreSQL only")
def test_requests_reuse_database_connections(servers: dict[str, Any]) -> None:
    secret = manage(servers["env"], "create_api_token", "connections", "--scope", "agent")
    url = servers["urls"][0]
    agent = str(uuid.uuid4())
    with httpx.Client(base_url=f"{url}/api/v1", headers=bearer(secret)) as client:
        assert client.post(f"/agents/{agent}/register").status_code == 200

        def beats(n: int) -> None:
            for _ in range(n):
                assert client.post(f"/agents/{agent}/heartbeat").status_code == 200

        def backends() -> set[tuple[int, Any]]:
            with psycopg.connect(servers["env"]["DATABASE_URL"], autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                    "AND query NOT LIKE 'LISTEN%%'").fetchall()  # the servers' notification listeners stay anyway
            return {(pid, started) for pid, started in rows}

        beats(20)
        before = backends()
        beats(100)
        after = backends()
    assert before, "no connection outlived its request"
    # Every connection open before is still open (none closed after its request), and the 100 requests
    # opened at most one per HTTP pool thread (a busy machine may hand a request to a thread not used yet).
    assert before <= after, "connections were closed after requests instead of reused"
    assert len(after - before) <= HTTP_THREADS, "connections were opened per request instead of reused"


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL closes backends; a SQLite file has none to lose")
def test_connections_the_database_closed_are_replaced_after_a_quiet_moment(servers: dict[str, Any]) -> None:
    """A busy connection skips Django's per-request health check (it answered a moment ago); one that sat
    idle for SWARM_CONN_HEALTH_IDLE_S is checked, so after the database drops every connection (a restart,
    an idle timeout) the next requests reconnect instead of failing."""
    secret = manage(servers["env"], "create_api_token", "reconnect", "--scope", "agent")
    agent = str(uuid.uuid4())
    with httpx.Client(base_url=f"{servers['urls'][0]}/api/v1", headers=bearer(secret)) as client:
        assert client.post(f"/agents/{agent}/register").status_code == 200
        for _ in range(20):
            assert client.post(f"/agents/{agent}/heartbeat").status_code == 200
        with psycopg.connect(servers["env"]["DATABASE_URL"], autocommit=True) as conn:
            dropped = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND query NOT LIKE 'LISTEN%%'"
            ).fetchone()
        assert dropped is not None and dropped[0] >= 1
        time.sleep(1.5)  # past SWARM_CONN_HEALTH_IDLE_S (1 s)
        answers = [client.post(f"/agents/{agent}/heartbeat").status_code for _ in range(30)]
    assert answers == [200] * 30


def test_a_body_over_the_limit_gets_413_json_also_when_chunked(servers: dict[str, Any]) -> None:
    secret = manage(servers["env"], "create_api_token", "bodies", "--scope", "agent")
    url = f"{servers['urls'][0]}/api/v1/noop"
    big = b'{"x": "' + b"a" * 5000 + b'"}'
    sized = httpx.post(url, content=big, headers={**bearer(secret), "Content-Type": "application/json"})
    chunked = httpx.post(url, content=iter([big[:3000], big[3000:]]),
                         headers={**bearer(secret), "Content-Type": "application/json"})
    for answer in (sized, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json()["code"] == "payload_too_large"


def test_long_polls_do_not_hold_up_other_requests(servers: dict[str, Any]) -> None:
    """More waiting long-polls than the quick pool has threads, and quick requests still answer."""
    secret = manage(servers["env"], "create_api_token", "waiters", "--scope", "agent")
    url = servers["urls"][0]
    answers: list[int] = []

    def wait() -> None:
        answers.append(httpx.get(f"{url}/api/v1/outputs/wait", params={"producer": "nobody", "timeout": 3},
                                 headers=bearer(secret), timeout=10).status_code)

    waiters = [threading.Thread(target=wait) for _ in range(12)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert httpx.post(f"{url}/api/v1/noop", headers=bearer(secret)).status_code == 200
    quick = time.monotonic() - started
    for waiter in waiters:
        waiter.join()
    assert quick < 2.0, f"a quick request waited {quick:.1f}s behind long-polls"
    assert len(answers) == 12 and set(answers) <= {200, 204}, answers


def test_dashboard_pages_keep_sessions_and_csrf(servers: dict[str, Any]) -> None:
    url = servers["urls"][1]
    login = httpx.get(f"{url}/accounts/login/")
    assert login.status_code == 200 and "csrftoken" in login.cookies
    assert httpx.get(f"{url}/", follow_redirects=False).status_code == 302
    refused = httpx.post(f"{url}/accounts/login/", data={"username": "x", "password": "y"})
    assert refused.status_code == 403  # no CSRF token: the dashboard's middleware still runs


def test_a_heartbeat_answered_by_one_process_is_seen_by_the_other_and_a_deregister_reaches_back(
    servers: dict[str, Any],
) -> None:
    """Heartbeats of a known agent are answered from the process's memory and written within
    SWARM_HEARTBEAT_FLUSH_S (0.2 s): another process reads them from the database that soon, and an agent
    deregistered through another process is answered 404 once the next flush has found it offline."""
    secret = manage(servers["env"], "create_api_token", "beats-across", "--scope", "agent")
    here, there = (httpx.Client(base_url=f"{url}/api/v1", headers=bearer(secret)) for url in servers["urls"])
    agent = str(uuid.uuid4())
    with here, there:
        assert here.post(f"/agents/{agent}/register").status_code == 200
        for _ in range(3):
            answer = here.post(f"/agents/{agent}/heartbeat")
            assert answer.status_code == 200, answer.text
        beat = answer.json()["last_heartbeat"]
        wait_until(lambda: there.get(f"/agents/{agent}").json()["last_heartbeat"] >= beat, 2, "the beat stored")
        assert there.post(f"/agents/{agent}/deregister").status_code == 204
        deadline = time.monotonic() + 2
        codes = []
        while time.monotonic() < deadline:
            codes.append(here.post(f"/agents/{agent}/heartbeat").status_code)
            if codes[-1] == 404:
                break
            time.sleep(0.05)
        assert codes[-1] == 404, codes
        assert there.get(f"/agents/{agent}").json()["state"] == "offline"  # the late beats never revived it
