"""The production layout, for real: two daphne processes on PostgreSQL + Redis, writers on one,
dashboard and identity-stream listeners on both. Every listener must see exactly the event log (none
lost, none twice, in order), also a socket left idle for a minute; then the writers' process is
killed with SIGKILL mid-load: no acknowledged write is lost, and its listeners reconnect to the
other process and resume from their last event id without a gap."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
import subprocess
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from tests.swarmclient.live import PY, ROOT, free_port, healthy, wait_until

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = [
    pytest.mark.skipif(not (DATABASE_URL.startswith("postgres") and REDIS_URL),
                       reason="the multi-process layout needs PostgreSQL and Redis (CI's second pass)"),
    pytest.mark.timeout(240),
]

IDENTITIES = [f"mp-{i}" for i in range(4)]
QUIET = "mp-quiet"
LOAD_S, KILL_AFTER_S, IDLE_S = 20.0, 5.0, 60.0
WRITERS = 6
MARKER = re.compile(r'data-last-event-id="(\d*)" data-kinds="([^"]*)" data-subjects="([^"]*)"')


def run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([PY, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def layout() -> Any:
    name = f"swarm_multiprocess{os.environ.get('SWARM_TEST_DB_SUFFIX', '')}"
    base = DATABASE_URL.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if k != "SWARM_TEST_DB_SUFFIX"}
    env.update(DATABASE_URL=f"{base}/{name}", REDIS_URL=REDIS_URL, SWARM_SWEEP_INTERVAL_S="0",
               DJANGO_SETTINGS_MODULE="swarmsite.settings")
    run(env, "migrate", "--noinput", "-v0")
    token = run(env, "create_api_token", "multiprocess", "--scope", "operator")
    session = run(env, "shell", "-v0", "-c", (
        "from django.contrib.auth.models import User; from django.contrib.sessions.backends.db import SessionStore; "
        "u = User.objects.create_superuser('mp', 'mp@example.com', 'pw-multiprocess-1'); s = SessionStore(); "
        "s['_auth_user_id'] = str(u.pk); s['_auth_user_backend'] = 'django.contrib.auth.backends.ModelBackend'; "
        "s['_auth_user_hash'] = u.get_session_auth_hash(); s.create(); print(s.session_key)")).splitlines()[-1]
    ports, procs = [free_port(), free_port()], []
    for port in ports:
        procs.append(subprocess.Popen([PY, "-m", "daphne", "-p", str(port), "swarmsite.asgi:application"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for url in urls:
            wait_until(functools.partial(healthy, url), 60, url)
        yield {"urls": urls, "procs": procs, "token": token, "session": session, "db": env["DATABASE_URL"]}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def logged(db: str, after: int, identity: str | None = None) -> list[tuple[int, str, str]]:
    where, args = "id > %s AND kind <> 'agent.heartbeat'", [after]
    if identity is not None:
        where += " AND subject_type = 'identity' AND subject_id = %s"
        args.append(identity)
    with psycopg.connect(db) as conn:
        rows = conn.execute(f"SELECT id, kind, subject_type || ':' || subject_id FROM stores_eventrecord "
                            f"WHERE {where} ORDER BY id", args).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


class Listener:
    """One websocket client; on a dropped socket it reconnects to the next server in `urls` and
    resumes after the last event id it received, as swarmclient and the dashboard page do."""

    def __init__(self, urls: list[str], identity: str | None, token: str, session: str, after: int) -> None:
        self.urls, self.identity, self.token, self.session = urls, identity, token, session
        self.after = after
        self.seen: list[tuple[int | None, str, str]] = []  # (id, kind, subject); dashboard batches: id of the last
        self.reconnects = 0
        self.refused: list[str] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        turn = 0
        while True:
            url = self.urls[turn % len(self.urls)].replace("http", "ws", 1)
            try:
                if self.identity is None:
                    await self._dashboard(url)
                else:
                    await self._stream(url)
            except (OSError, WebSocketException, TimeoutError) as error:
                self.refused.append(repr(error))
            turn += 1
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _stream(self, url: str) -> None:
        path = f"{url}/ws/identities/{self.identity}/events/?after={self.after}"
        async with connect(path, additional_headers={"Authorization": f"Bearer {self.token}"}) as ws:
            async for raw in ws:
                event = json.loads(raw)
                if event.get("id") is not None:
                    self.seen.append((event["id"], event["kind"], f"{event['subject_type']}:{event['subject_id']}"))
                    self.after = event["id"]

    async def _dashboard(self, url: str) -> None:
        headers = {"Cookie": f"sessionid={self.session}", "Origin": url.replace("ws", "http", 1)}
        async with connect(f"{url}/ws/dashboard/", additional_headers=headers) as ws:
            await ws.send(json.dumps({"resume_after": self.after}))
            async for raw in ws:
                last, kinds, subjects = MARKER.search(str(raw)).groups()  # type: ignore[union-attr]
                pairs = [(k, s) for k, s in zip(kinds.split(), subjects.split(), strict=True) if k != "agent.heartbeat"]
                self.seen += [(None, k, s) for k, s in pairs]
                if last:
                    self.after = int(last)

    def durable(self) -> list[tuple[str, str]]:
        return [(k, s) for _, k, s in self.seen]


async def write_load(urls: list[str], token: str, until: float, acked: list[str]) -> None:
    """Writers: register a fresh agent (acknowledged = 200, its agent.online must be logged), take a
    lease on an identity and release it. Connection errors move a writer to the next server."""

    async def writer(n: int) -> None:
        turn = 0
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            while time.monotonic() < until:
                base = urls[turn % len(urls)] + "/api/v1"
                agent = str(uuid.uuid4())
                name = IDENTITIES[n % len(IDENTITIES)]
                try:
                    if (await http.post(f"{base}/agents/{agent}/register", json={"name": f"w{n}"})).status_code == 200:
                        acked.append(agent)
                    got = await http.post(f"{base}/identities/{name}/lease", json={"agent_id": agent})
                    if got.status_code == 200:
                        body = {"agent_id": agent, "fencing_token": got.json()["fencing_token"]}
                        await http.post(f"{base}/identities/{name}/lease/release", json=body)
                except httpx.HTTPError:
                    turn += 1
                    await asyncio.sleep(0.1)

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))


def assert_matches_log(listener: Listener, db: str, start: int) -> None:
    expected = [(k, s) for _, k, s in logged(db, start, listener.identity)]
    got = listener.durable()
    assert not listener.task.done() or listener.task.cancelled(), listener.task.exception()
    assert len(got) == len(expected), (
        f"{listener.identity or 'dashboard'}: {len(got)} received, {len(expected)} logged; {listener.refused[:3]}")
    assert got == expected  # none lost, none twice, in the log's order


async def settle(listeners: list[Listener], db: str, start: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if all(len(li.durable()) >= len(logged(db, start, li.identity)) for li in listeners):
            break
        await asyncio.sleep(0.3)
    await asyncio.sleep(0.5)  # anything extra (a repeat) would arrive now


async def scenario(lay: dict[str, Any]) -> None:
    urls, token, session, db = lay["urls"], lay["token"], lay["session"], lay["db"]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for name in [*IDENTITIES, QUIET]:
            made = await http.post(f"{urls[0]}/api/v1/identities", json={"identity": name, "profile": "w"})
            assert made.status_code == 201
    start = logged(db, 0)[-1][0]
    opened = time.monotonic()
    # The quiet identity's sockets stay idle: nothing happens to it until the very end.
    idle = [Listener([url], QUIET, token, session, start) for url in reversed(urls)]
    listeners = [Listener([url, *[u for u in urls if u != url]], name, token, session, start)
                 for url in urls for name in [None, *IDENTITIES]]

    acked: list[str] = []
    await asyncio.sleep(1)
    await write_load(urls[:1], token, time.monotonic() + LOAD_S, acked)
    await settle(listeners, db, start)
    for listener in listeners:
        assert_matches_log(listener, db, start)
    assert all(li.reconnects == 0 for li in listeners + idle)  # nobody was dropped under load

    # Kill the writers' process mid-load; its writers and listeners move to the other one.
    load = asyncio.ensure_future(write_load(urls, token, time.monotonic() + 2 * KILL_AFTER_S, acked))
    await asyncio.sleep(KILL_AFTER_S)
    lay["procs"][0].send_signal(signal.SIGKILL)
    await load
    await settle(listeners, db, start)
    for listener in listeners:
        assert_matches_log(listener, db, start)
    assert all(li.reconnects > 0 for li in listeners[:len(IDENTITIES) + 1])  # those on the killed process moved
    logged_agents = {s.split(":", 1)[1] for _, k, s in logged(db, start) if k == "agent.online"}
    assert set(acked) <= logged_agents and len(acked) > 50

    # The idle sockets have heard nothing for a minute and are still open and live.
    await asyncio.sleep(max(0.0, IDLE_S - (time.monotonic() - opened)))
    assert idle[0].reconnects == 0 and idle[0].seen == []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        agent = str(uuid.uuid4())
        await http.post(f"{urls[1]}/api/v1/agents/{agent}/register", json={})
        lease = await http.post(f"{urls[1]}/api/v1/identities/{QUIET}/lease", json={"agent_id": agent})
        assert lease.status_code == 200
    await settle(idle[:1], db, start)
    assert_matches_log(idle[0], db, start)
    assert idle[0].reconnects == 0
    assert idle[0].durable()[-1][0] == "identity.lease_acquired"
    for listener in listeners + idle:
        listener.task.cancel()


def test_two_processes_lose_no_event_and_survive_a_sigkill(layout: dict[str, Any]) -> None:
    asyncio.run(scenario(layout))
