"""Dashboard benchmarks, each a ratio or a latency measured in one run:

- roster render time at 10,000 identities against the same page at 100 (every tenth identity holds a
  lease and has a checkpoint), in-process with Django's test Client on a fresh database. The roster
  reads in a fixed number of queries, so the ratio should stay near 1 (target: at most 2);
- the overview with its charts (the page, and the chart data per minute over the hour and per hour over
  the day, for the swarm and for one identity) at 10,000 identities and 1,000,000 events against 100
  identities and 1,000 events (target: at most 2). Events are written to the log in bulk, spread over
  the last day, and their counts added to the rollup per minute as the append hook does, so the charts
  never read the log and only the log's newest rows are read by the feed;
- the delay from an API call's response (a checkpoint save) to the matching websocket push, with 50
  dashboard clients connected to one daphne server as a logged-in viewer: p50 and p95 over every
  (call, client) pair (target: p95 under 250 ms), beside the same delay with one client.

Run: .venv/bin/python bench/dashboard.py [--pg] [--identities 10000] [--events 1000000] [--calls 100]"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# Running this file puts bench/ first on the path, where bench/queue.py would shadow the stdlib queue.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.common import bench_env, fresh_postgres_url, live_server, manage, pct, report  # noqa: E402

SMALL = 100
RENDERS = 30
KIND = "identity.checkpoint_completed"
KINDS_RE = re.compile(r'data-kinds="([^"]*)"')


# -- roster render ------------------------------------------------------------------------------
def setup_django(database_url: str | None) -> None:
    env = bench_env(database_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("REDIS_URL", None)  # in-process: the in-memory channel layer
    os.environ["SWARM_AGENT_TTL_S"] = "86400"  # the lease holder must outlive a long setup
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test Client's host in
    call_command("migrate", verbosity=0, interactive=False)


def populate(start: int, stop: int) -> None:
    from django.db import transaction

    from identities.types import DurableAgentSpec
    from swarmsite.composition import identity_runtime, lifecycle_store

    runtime = identity_runtime()
    agent = uuid.uuid4()
    lifecycle_store().register(agent, name="bench-holder")
    for batch in range(start, stop, 500):
        with transaction.atomic():  # one commit per 500 identities: setup speed, not what is measured
            for i in range(batch, min(batch + 500, stop)):
                name = f"id-{i:05d}"
                runtime.create_identity(DurableAgentSpec(identity=name, profile="bench", labels={"team": str(i % 7)}))
                if i % 10 == 0:
                    grant = runtime.acquire_lease(name, agent, ttl_s=3600)
                    runtime.checkpoint(name, json.dumps({"i": i}).encode(), token=grant.fencing_token)


def render_times(client: Any, path: str) -> float:
    """Seconds to render `path`, best of RENDERS after a warm-up: the machine is shared, and the
    minimum is the figure least disturbed by other processes."""
    client.get(path)
    samples = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return min(samples)


EVENT_MIX = ("output.appended", "identity.message_delivered", "queue.enqueued", "queue.completed",
             "agent.heartbeat", "identity.lease_renewed", "identity.lease_lost", "identity.stale_write_rejected")
OVERVIEW_PAGES = {
    "overview page (counts, feed, chart panel)": "/",
    "chart data, swarm, per minute over the hour": "/charts/?scope=all&range=hour",
    "chart data, swarm, per hour over the day": "/charts/?scope=all&range=day",
    "chart data, one identity, per minute over the hour": "/charts/?scope=identity&id=id-00010&range=hour",
    "chart data, one identity, per hour over the day": "/charts/?scope=identity&id=id-00010&range=day",
    "chart data, one agent, per hour over the day": f"/charts/?scope=agent&id={uuid.UUID(int=11)}&range=day",
}


def add_events(start: int, count: int, identities: int) -> None:
    """`count` events spread over the last day, in bulk; the rollup gets their counts per minute."""
    from collections import defaultdict
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from stores.metrics_types import epoch_minute, increments_for
    from stores.models import EventRecord
    from stores.types import Event
    from swarmsite.composition import metrics_rollup

    now = timezone.now()
    step = timedelta(days=1) / max(count, 1)
    by_minute: dict[int, list[Any]] = defaultdict(list)
    for chunk in range(0, count, 5000):
        rows = []
        for i in range(chunk, min(chunk + 5000, count)):
            n = start + i
            kind, identity = EVENT_MIX[n % len(EVENT_MIX)], f"id-{n % identities:05d}"
            at = now - timedelta(days=1) + step * i
            agent = str(uuid.UUID(int=n % 50 + 1))  # 50 agents: producer, holder, rejected writer
            payload = {"identity": identity, "batch_ids": ["b"], "holder": agent, "producer": agent, "agent_id": agent}
            subject = ("output", f"out-{n:010x}") if kind == "output.appended" else ("identity", identity)
            rows.append(EventRecord(kind=kind, subject_type=subject[0], subject_id=subject[1], payload=payload,
                                    created_at=at))
            by_minute[epoch_minute(at)] += increments_for(Event(kind, subject[0], subject[1], payload, at))
        with transaction.atomic():
            EventRecord.objects.bulk_create(rows, batch_size=1000)
    rollup = metrics_rollup()
    with transaction.atomic():
        for minute, increments in by_minute.items():
            rollup.add(increments, minute)


def overview_ratio(client: Any, small: dict[str, float], large: int, events: int) -> list[tuple[str, str]]:
    big = {name: render_times(client, path) for name, path in OVERVIEW_PAGES.items()}
    ratios = {name: big[name] / small[name] for name in OVERVIEW_PAGES}
    worst = max(ratios, key=ratios.__getitem__)
    rows = [(f"{name}: {SMALL} identities, 1,000 events → {large:,} identities, {events:,} events",
             f"{small[name] * 1000:.1f} ms → {big[name] * 1000:.1f} ms (ratio {ratios[name]:.2f})")
            for name in OVERVIEW_PAGES]
    return rows + [("overview and chart data, highest ratio (target ≤ 2)", f"{worst}: **{ratios[worst]:.2f}**")]


def roster_ratio(database_url: str | None, large: int, events: int = 1_000_000) -> list[tuple[str, str]]:
    setup_django(database_url)
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user("bench-viewer", password="bench-password-1")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client()
    client.force_login(user)
    pages = {"roster page 1": "/roster/", "roster, a deep page (2nd → 20th)": "/roster/?page=20",
             "roster, lease held": "/roster/?lease=held", "roster, search by label": "/roster/?q=team%3D3"}
    populate(0, SMALL)
    add_events(0, 1000, SMALL)
    small = {name: render_times(client, path.replace("page=20", "page=2")) for name, path in pages.items()}
    small_overview = {name: render_times(client, path) for name, path in OVERVIEW_PAGES.items()}
    started = time.perf_counter()
    populate(SMALL, large)
    print(f"populated {large} identities in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    started = time.perf_counter()
    add_events(1000, events - 1000, large)
    print(f"appended {events:,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    big = {name: render_times(client, path) for name, path in pages.items()}
    rows = []
    for name in pages:
        rows.append((f"{name}: {SMALL} → {large} identities",
                     f"{small[name] * 1000:.1f} ms → {big[name] * 1000:.1f} ms (ratio {big[name] / small[name]:.2f})"))
    return rows + overview_ratio(client, small_overview, large, events)


# -- websocket push delay -----------------------------------------------------------------------
def viewer_cookie(base: str, env: dict[str, str]) -> str:
    manage(env, "shell", "-c", (
        "from django.contrib.auth.models import Group, User; "
        "u = User.objects.create_user('bench-viewer', password='bench-password-1'); "
        "u.groups.add(Group.objects.get_or_create(name='viewer')[0])"
    ))
    with httpx.Client(base_url=base) as http:
        page = http.get("/accounts/login/").text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert csrf is not None
        form = {"username": "bench-viewer", "password": "bench-password-1", "csrfmiddlewaretoken": csrf.group(1)}
        http.post("/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"})
        return f"sessionid={http.cookies['sessionid']}"


async def push_delays(base: str, token: str, cookie: str, clients: int, calls: int) -> tuple[list[float], list[float]]:
    """For every (call, client): (push arrival - response received, push arrival - request sent), in s.
    The first is negative when the push beats the response: events go out at commit, before the
    view has returned."""
    import websockets

    api = httpx.AsyncClient(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    name = f"ws-{uuid.uuid4().hex[:8]}"
    agent = str(uuid.uuid4())
    (await api.post(f"/agents/{agent}/register", json={})).raise_for_status()
    (await api.post("/identities", json={"identity": name, "profile": "bench"})).raise_for_status()
    fence = (await api.post(f"/identities/{name}/lease", json={"agent_id": agent, "ttl_s": 3600})).json()
    ws_url = base.replace("http://", "ws://") + "/ws/dashboard/"
    sockets = [
        await websockets.connect(ws_url, additional_headers={"Cookie": cookie, "Origin": base}) for _ in range(clients)
    ]
    arrivals: list[list[float]] = [[] for _ in range(clients)]
    everyone = asyncio.Event()

    async def listen(i: int, ws: Any) -> None:
        async for message in ws:
            found = KINDS_RE.search(message)
            if found and KIND in found.group(1).split():
                arrivals[i].append(time.perf_counter())
                if all(len(a) == len(arrivals[i]) for a in arrivals):
                    everyone.set()

    listeners = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
    data = base64.b64encode(b'{"bench": true}').decode()
    after_response: list[float] = []
    after_request: list[float] = []
    try:
        for call in range(calls):
            body = {"agent_id": agent, "fencing_token": fence["fencing_token"], "data": data}
            everyone.clear()
            sent = time.perf_counter()
            response = await api.post(f"/identities/{name}/checkpoints", json=body)
            answered = time.perf_counter()
            response.raise_for_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everyone.wait(), timeout=5)
            after_response += [a[call] - answered for a in arrivals if len(a) > call]
            after_request += [a[call] - sent for a in arrivals if len(a) > call]
            await asyncio.sleep(0.02)
    finally:
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
        await api.aclose()
    missing = clients * calls - len(after_response)
    if missing:
        print(f"{missing} pushes did not arrive within 5 s", file=sys.stderr)
    return after_response, after_request


def websocket_rows(database_url: str | None, calls: int) -> list[tuple[str, str]]:
    with live_server(database_url, scope="admin") as (base, token, env):
        cookie = viewer_cookie(base, env)
        rows = []
        for clients in (1, 50):
            after_response, after_request = asyncio.run(push_delays(base, token, cookie, clients, calls))
            rows += [
                (f"push after the response, {clients} client{'s' if clients > 1 else ''}: p50 / p95 / max "
                 f"({len(after_response)} pushes{'; target p95 < 250 ms' if clients > 1 else ''})",
                 " / ".join(ms(pct(after_response, q)) for q in (0.5, 0.95, 1.0))),
                (f"push after the request was sent, {clients} client{'s' if clients > 1 else ''}: p50 / p95",
                 " / ".join(ms(pct(after_request, q)) for q in (0.5, 0.95))),
            ]
    return rows


def ms(seconds: float) -> str:
    return f"{seconds * 1000:+.1f} ms" if seconds < 0 else f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-websocket", action="store_true", help="only the render ratios")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.pg else "SQLite"
    ws_db = fresh_postgres_url("bench_dashboard_ws") if args.pg else None
    rows = [] if args.skip_websocket else websocket_rows(ws_db, args.calls)
    render_db = fresh_postgres_url("bench_dashboard_roster") if args.pg else None
    render_rows = roster_ratio(render_db, args.identities, args.events)
    # The last line printed is the ratio against the target: the overview's and charts' highest.
    rows = render_rows[:-1] + rows + render_rows[-1:]
    report(f"Dashboard: roster and overview render, websocket push delay ({backend})", rows)


if __name__ == "__main__":
    main()
