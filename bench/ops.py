"""Every agent operation's rate against the authenticated no-op on the same server, and the SQL
statements each one executes (SQLite by default, PostgreSQL with --pg).

Rates: the product served as it ships (`manage.py serve --no-demo --workers 1`, bench/common.py
product_server) on a fresh database; --workers client processes (default 4), each one agent with an
agent-scope token, its own identity under a lease, its own pool of identities to acquire and release,
and its own plain session. Every operation runs on all workers at once for --seconds, interleaved
with the no-op, --rounds times; the medians are compared. Operations that consume what an earlier one
made (release after acquire, claim after send, complete after claim) end early when their worker's
supply runs out; their rate is then counted over the time they ran.

Statements: counted in a separate process on another fresh database of the same engine, with every
request sent through Django's test Client (the full middleware chain, ninja, the token check) and the
connections handled as the server handles them (close_old_connections before and after each request,
as Django's request_started / request_finished signals do, as long as the server's code leaves it
connected to them; swarmsite.asgi is imported first, as the server does). They are counted at the driver, so
nothing is missed: on SQLite through sqlite3's trace callback on every connection (it sees BEGIN,
COMMIT, SAVEPOINT, RELEASE and the PRAGMAs), on PostgreSQL through libpq's protocol trace (PQtrace)
of every psycopg connection (each Query or Execute message the server receives). The count is the
median of 5 calls after 2 warm-up calls (the last-used stamp of a token and the durable log of
heartbeats and renewals are written at most once a minute, so a call can occasionally be dearer: the
maximum is shown when it differs). Statements run while a connection is being opened (PRAGMAs,
time zone) are counted apart, per request, in "connection setup".

The last line is the lowest ratio op / no-op.

Run: .venv/bin/python -m bench.ops [--pg] [--seconds 2] [--rounds 3] [--workers 4] [--show-sql]"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/queue.py shadows queue
sys.path.insert(0, str(HERE.parent))
from bench.common import (  # noqa: E402
    PY,
    ROOT,
    cpu_seconds,
    fresh_postgres_url,
    load_average,
    machine,
    manage,
    median,
    process_tree,
    product_server,
)

TTL_S = 3600  # agents, leases and claims outlive the run: nothing expires while it measures
BENCH_ENV = {"SWARM_AGENT_TTL_S": str(TTL_S), "SWARM_LEASE_TTL_S": str(TTL_S), "SWARM_CLAIM_TTL_S": str(TTL_S),
             "SWARM_SWEEP_INTERVAL_S": "0"}
CHECKPOINT = base64.b64encode(os.urandom(1024)).decode()  # the 1 KB snapshot
SNAPSHOT_MESSAGES = [{"role": "user", "text": "x" * 90} for _ in range(10)]  # a ~1 KB runtime snapshot
NOW = "2026-01-01T00:00:00+00:00"


# -- the operations, over any transport --------------------------------------------------------------


class Transport(Protocol):
    def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, Any]: ...


class Failed(Exception):
    pass


def ok(answer: tuple[int, Any], what: str, allowed: tuple[int, ...] = (200, 201, 204)) -> Any:
    status, body = answer
    if status not in allowed:
        raise Failed(f"{what}: {status} {body}")
    return body


@dataclass
class Agent:
    """One agent's world: its identity under a lease, a pool of identities to take and give back,
    and what the consuming operations consume (queued batches, claims)."""

    index: int
    agent_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: str = ""
    token: int = 0
    session_id: str = ""
    runtime_id: str = ""
    plain_session: str = ""
    free: list[str] = field(default_factory=list)  # pool identities without a lease
    held: list[tuple[str, int]] = field(default_factory=list)  # pool identities this agent leases
    queued: int = 0  # batches sent to the identity's inbox and not claimed yet
    claims: list[dict[str, Any]] = field(default_factory=list)  # inbox claims to complete
    plain_queued: int = 0
    plain_claims: list[dict[str, Any]] = field(default_factory=list)
    n: int = 0  # a counter for unique node ids, receipt sequences, task steps

    def fence(self) -> dict[str, Any]:
        return {"identity": self.identity, "fencing_token": self.token}


def setup_agent(agent: Agent, admin: Transport, client: Transport, pool: int, prefix: str) -> None:
    agent.identity = f"{prefix}-w{agent.index}"
    agent.plain_session = f"{prefix}-plain-{agent.index}"
    ok(client.post(f"/agents/{agent.agent_id}/register", {"name": agent.identity}), "register")
    ok(admin.post("/identities", {"identity": agent.identity, "profile": "bench"}), "create identity")
    grant = ok(client.post(f"/identities/{agent.identity}/lease", {"agent_id": agent.agent_id, "ttl_s": TTL_S}),
               "acquire")
    agent.token = grant["fencing_token"]
    for k in range(pool):
        name = f"{agent.identity}-pool-{k}"
        ok(admin.post("/identities", {"identity": name, "profile": "bench"}), "create pool identity")
        agent.free.append(name)


def identity_status(agent: Agent, get: Callable[[str], Any]) -> None:
    """The session and runtime the identity owns (its current generation's)."""
    status = get(f"/identities/{agent.identity}")
    agent.session_id, agent.runtime_id = status["session_id"], status["agent_runtime_id"]


# Each operation: (name, label, step). A step makes one request and answers False when its supply ran
# out (nothing was sent then).
Step = Callable[[Agent, Transport], bool]


def noop(a: Agent, c: Transport) -> bool:
    ok(c.post("/noop"), "noop")
    return True


def heartbeat(a: Agent, c: Transport) -> bool:
    ok(c.post(f"/agents/{a.agent_id}/heartbeat"), "heartbeat")
    return True


def lease_acquire(a: Agent, c: Transport) -> bool:
    if not a.free:
        return False
    name = a.free.pop()
    grant = ok(c.post(f"/identities/{name}/lease", {"agent_id": a.agent_id, "ttl_s": TTL_S}), "acquire")
    a.held.append((name, grant["fencing_token"]))
    return True


def lease_renew(a: Agent, c: Transport) -> bool:
    body = {"agent_id": a.agent_id, "fencing_token": a.token, "ttl_s": TTL_S}
    ok(c.post(f"/identities/{a.identity}/lease/renew", body), "renew")
    return True


def lease_release(a: Agent, c: Transport) -> bool:
    if not a.held:
        return False
    name, token = a.held.pop()
    ok(c.post(f"/identities/{name}/lease/release", {"agent_id": a.agent_id, "fencing_token": token}), "release")
    a.free.append(name)
    return True


def checkpoint(a: Agent, c: Transport) -> bool:
    body = {"agent_id": a.agent_id, "fencing_token": a.token, "data": CHECKPOINT}
    ok(c.post(f"/identities/{a.identity}/checkpoints", body), "checkpoint")
    return True


def send(a: Agent, c: Transport) -> bool:
    ok(c.post(f"/identities/{a.identity}/send", {"content": {"text": "next task"}}), "send")
    a.queued += 1
    return True


def claim(a: Agent, c: Transport) -> bool:
    got = ok(c.post(f"/sessions/{a.session_id}/queue/claim", {"agent_id": a.agent_id, "max_batches": 1},
                    {"Fencing-Token": str(a.token)}), "claim")
    if got is None:  # 204: nothing queued
        a.queued = 0
        return False
    a.queued -= 1
    a.claims.append(got)
    return True


def _claim_ref(claim: dict[str, Any]) -> dict[str, Any]:
    return {"claim_id": claim["claim_id"], "lease_token": claim["lease_token"],
            "batch_ids": [b["batch_id"] for b in claim["batches"]]}


def complete(a: Agent, c: Transport) -> bool:
    if not a.claims:
        return False
    ok(c.post(f"/sessions/{a.session_id}/queue/complete", _claim_ref(a.claims.pop()) | a.fence()), "complete")
    return True


def output_append(a: Agent, c: Transport) -> bool:
    a.n += 1
    body = {"task_id": f"task-{a.identity}", "attempt": 1, "producer_agent": a.identity,
            "event": {"type": "progress", "stage": "step", "note": f"step {a.n}"}} | a.fence()
    ok(c.post("/outputs", body), "output append")
    return True


def session_commit(a: Agent, c: Transport) -> bool:
    a.n += 1
    node = f"n{a.n}"
    body = {"graph": {"mode": "append", "nodes": [{"node_id": node, "payload": {"text": "a turn"}}],
                      "leaf_node_id": node},
            "checkpoint": {"turn_state": {"turn": a.n}}} | a.fence()
    ok(c.post(f"/sessions/{a.session_id}/commit", body), "session commit")
    return True


def runtime_commit(a: Agent, c: Transport) -> bool:
    a.n += 1
    run_id = str(uuid.UUID(int=a.index + 1))
    body = {
        "session_snapshot": {"messages": SNAPSHOT_MESSAGES, "turn": a.n},
        "receipt": {"run_id": run_id, "boundary": "run_checkpoint", "sequence": a.n, "message_count": 10},
        "input_updates": [{"input_id": str(uuid.UUID(int=1000 * (a.index + 1) + k)), "current_state": "applied",
                           "created_at": NOW, "updated_at": NOW, "last_run_id": run_id,
                           "last_boundary_sequence": a.n} for k in range(2)],
    } | a.fence()
    ok(c.post(f"/runtimes/{a.runtime_id}/apply", body), "runtime commit")
    return True


def enqueue(a: Agent, c: Transport) -> bool:
    body = {"payloads": [{"type": "turn_input", "input": {"text": "work"}}]}
    ok(c.post(f"/sessions/{a.plain_session}/queue", body), "enqueue")
    a.plain_queued += 1
    return True


def plain_claim(a: Agent, c: Transport) -> bool:
    got = ok(c.post(f"/sessions/{a.plain_session}/queue/claim", {"agent_id": a.agent_id, "max_batches": 1}),
             "plain claim")
    if got is None:
        a.plain_queued = 0
        return False
    a.plain_queued -= 1
    a.plain_claims.append(got)
    return True


def plain_complete(a: Agent, c: Transport) -> bool:
    if not a.plain_claims:
        return False
    ok(c.post(f"/sessions/{a.plain_session}/queue/complete", _claim_ref(a.plain_claims.pop())), "plain complete")
    return True


# In an order where each consumer follows its supplier within a round.
OPS: list[tuple[str, str, Step]] = [
    ("noop", "no-op POST /noop (authenticated, the baseline)", noop),
    ("heartbeat", "heartbeat", heartbeat),
    ("acquire", "lease acquire", lease_acquire),
    ("renew", "lease renew", lease_renew),
    ("release", "lease release", lease_release),
    ("checkpoint", "checkpoint 1 KB", checkpoint),
    ("send", "send (to an identity's inbox)", send),
    ("claim", "claim (identity inbox, fenced, 1 batch)", claim),
    ("complete", "complete (identity inbox, fenced)", complete),
    ("output", "output append (fenced)", output_append),
    ("commit", "session commit (1 node + turn state, fenced)", session_commit),
    ("apply", "runtime commit (apply: ~1 KB snapshot, receipt, 2 inputs, fenced)", runtime_commit),
    ("enqueue", "enqueue (plain session)", enqueue),
    ("plain_claim", "claim (plain session, 1 batch)", plain_claim),
    ("plain_complete", "complete (plain session)", plain_complete),
]
STEPS = {name: step for name, _label, step in OPS}


def fill(a: Agent, c: Transport, name: str, n: int) -> None:
    """Make (untimed) what `n` runs of a consuming operation will consume, where it is short."""
    if name == "acquire":
        while len(a.free) < n and a.held:
            lease_release(a, c)
    elif name == "release":
        while len(a.held) < n and a.free:
            lease_acquire(a, c)
    elif name == "claim":
        while a.queued < n:
            send(a, c)
    elif name == "complete":
        while len(a.claims) < n:
            if a.queued <= 0:
                send(a, c)
            claim(a, c)
    elif name == "plain_claim":
        while a.plain_queued < n:
            enqueue(a, c)
    elif name == "plain_complete":
        while len(a.plain_claims) < n:
            if a.plain_queued <= 0:
                enqueue(a, c)
            plain_claim(a, c)


CONSUMERS = {"acquire", "release", "claim", "complete", "plain_claim", "plain_complete"}


# -- rates: client processes against the live server -------------------------------------------------


class HttpxTransport:
    def __init__(self, base: str, token: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"},
                                   timeout=60)

    def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, Any]:
        response = self.client.post(path, json=body, headers=headers)
        return response.status_code, response.json() if response.content else None

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()


def worker(index: int, base: str, admin_token: str, agent_token: str, pool: int, conn: Any, start: Any) -> None:
    """One client process: set its agent up, then run each operation it is told to for the time given."""
    try:
        admin, client = HttpxTransport(base, admin_token), HttpxTransport(base, agent_token)
        agent = Agent(index)
        setup_agent(agent, admin, client, pool, "ops")
        identity_status(agent, admin.get)
        conn.send(("ready", None))
        while True:
            command = conn.recv()
            if command is None:
                return
            if command[0] == "fill":
                fill(agent, client, command[1], command[2])
                conn.send(("done", None))
                continue
            name, seconds = command
            step = STEPS[name]
            start.wait()
            count, began = 0, time.perf_counter()
            while time.perf_counter() - began < seconds and step(agent, client):
                count += 1
            conn.send(("done", (count, time.perf_counter() - began)))
    except Exception as exc:  # reported to the parent, which stops the run
        conn.send(("error", f"worker {index}: {type(exc).__name__}: {exc}"))


class Workers:
    def __init__(self, n: int, base: str, admin_token: str, agent_token: str, pool: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.start = ctx.Barrier(n)
        self.short: dict[str, int] = {}  # measured runs in which a worker ran out of supply before the end
        self.pipes, self.procs = [], []
        for i in range(n):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker, args=(i, base, admin_token, agent_token, pool, child, self.start))
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self._collect()

    def _collect(self) -> list[Any]:
        answers = []
        for pipe in self.pipes:
            kind, value = pipe.recv()
            if kind == "error":
                self.close()
                sys.exit(value)
            answers.append(value)
        return answers

    def run(self, name: str, seconds: float, expected: float | None = None,
            cpu: Callable[[], float] = lambda: 0.0) -> tuple[float, float]:
        """(operations per second, all workers together: each worker's count over the time it ran;
        server CPU milliseconds per operation, from `cpu`). A consuming operation first gets (untimed)
        supply for a quarter more than `expected` per second."""
        if name in CONSUMERS and expected:
            n = int(1.25 * expected / len(self.pipes) * seconds) + 2
            for pipe in self.pipes:
                pipe.send(("fill", name, n))
            self._collect()
        cpu_start = cpu()
        for pipe in self.pipes:
            pipe.send((name, seconds))
        answers = self._collect()
        cpu_ms = 1000 * (cpu() - cpu_start) / max(1, sum(count for count, _elapsed in answers))
        if any(elapsed < 0.95 * seconds for _count, elapsed in answers):
            self.short[name] = self.short.get(name, 0) + 1
        return sum(count / elapsed for count, elapsed in answers if elapsed > 0), cpu_ms

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


@dataclass
class Measured:
    rates: dict[str, list[float]]  # per operation, one per round
    cpu_ms: dict[str, list[float]]  # server CPU per request (serve and its daphne workers)
    short: dict[str, int]  # runs that ran out of supply


def measure_rates(database_url: str | None, args: argparse.Namespace) -> Measured:
    os.environ.update(BENCH_ENV)  # the server inherits them (bench_env copies the environment)
    with product_server(database_url, scope="admin") as served:
        agent_token = manage(served.env, "create_api_token", "ops-agent", "--scope", "agent")
        workers = Workers(args.workers, served.base, served.token, agent_token, args.pool)
        server = process_tree(served.pid)

        def cpu() -> float:
            return cpu_seconds(server)

        try:
            expected = {}
            for name, _label, _step in OPS:  # warm-up: code paths and connections, a first estimate
                expected[name] = workers.run(name, 0.5, 40.0)[0]
            workers.short.clear()
            measured = Measured({name: [] for name, _l, _s in OPS}, {name: [] for name, _l, _s in OPS}, workers.short)
            for _ in range(args.rounds):
                for name, _label, _step in OPS:
                    # Supply for the fastest rate seen so far, so a consumer rarely runs dry.
                    rate, cpu_ms = workers.run(name, args.seconds, max([expected[name], *measured.rates[name]]), cpu)
                    measured.rates[name].append(rate)
                    measured.cpu_ms[name].append(cpu_ms)
        finally:
            workers.close()
    return measured


# -- statements: in-process, counted at the driver ---------------------------------------------------


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)
    connections: int = 0


def unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


class StatementLog:
    """Every statement any connection of this process sends, counted at the driver; statements sent
    while Django opens a connection (inside DatabaseWrapper.connect) count as connection setup."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.local = threading.local()
        self.current: Counted | None = None
        self.pg_conns: list[Any] = []
        if engine == "postgresql":
            self.trace_path = tempfile.mktemp(prefix="ops-pgtrace-")
            self.trace_fd = os.open(self.trace_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self.prepared: dict[str, str] = {}
        self._install()

    # SQLite: the trace callback is called for every statement, as it starts.
    def _sqlite_statement(self, sql: str) -> None:
        with self.lock:
            if self.current is not None and not sql.startswith("--"):  # "--": statements inside triggers
                into = self.current.setup if getattr(self.local, "connecting", False) else self.current.statements
                into.append(sql)

    # PostgreSQL: libpq writes the protocol messages it sends to a trace file (buffered: flushed by
    # untrace, then tracing starts again).
    def _pg_attach(self, conn: Any) -> None:
        import psycopg

        conn.pgconn.trace(self.trace_fd)
        conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        self.pg_conns.append(conn)

    def _pg_flush(self) -> None:
        import psycopg

        for conn in list(self.pg_conns):
            if conn.closed:
                self.pg_conns.remove(conn)
                continue
            conn.pgconn.untrace()
            conn.pgconn.trace(self.trace_fd)
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)

    def _pg_mark(self) -> int:
        self._pg_flush()
        return os.fstat(self.trace_fd).st_size

    def _pg_statements(self, start: int, end: int) -> list[str]:
        """Each Query message is one statement, each Execute one execution of a parsed statement."""
        with open(self.trace_path, "rb") as f:
            f.seek(start)
            text = f.read(end - start).decode("utf-8", "replace")
        out, unnamed = [], ""
        for line in text.splitlines():
            parts = line.split("\t", 3)
            if len(parts) < 4 or parts[0] != "F":
                continue
            kind, rest = parts[2], parts[3].strip()
            if kind == "Query":
                out.append(unquote(rest))
            elif kind == "Parse":
                name, _, sql = rest.partition(" ")
                sql = sql.rsplit('" ', 1)[0] + '"' if '" ' in sql else sql  # drop the parameter types
                self.prepared[name] = sql
                unnamed = sql
            elif kind == "Bind":
                names = rest.split(" ")
                unnamed = self.prepared.get(names[1] if len(names) > 1 else '""', unnamed)
            elif kind == "Execute":
                out.append(unquote(unnamed))
        return out

    def _install(self) -> None:
        from django.db.backends.base.base import BaseDatabaseWrapper

        log = self
        original_connect = BaseDatabaseWrapper.connect

        def connect(wrapper: Any) -> None:
            log.local.connecting = True
            mark = log._pg_mark() if log.engine == "postgresql" else 0
            try:
                original_connect(wrapper)
            finally:
                log.local.connecting = False
                with log.lock:
                    if log.current is not None:
                        log.current.connections += 1
                        if log.engine == "postgresql":
                            log.current.setup.extend(log._pg_statements(mark, log._pg_mark()))

        BaseDatabaseWrapper.connect = connect  # type: ignore[method-assign,assignment]
        if self.engine == "sqlite":
            from sqlite3 import dbapi2

            original = dbapi2.connect

            def sqlite_connect(*args: Any, **kwargs: Any) -> Any:
                conn = original(*args, **kwargs)
                conn.set_trace_callback(log._sqlite_statement)
                return conn

            dbapi2.connect = sqlite_connect  # type: ignore[assignment]
        else:
            import psycopg

            original_pg = psycopg.Connection.connect.__func__  # type: ignore[attr-defined]
            original_close = psycopg.Connection.close

            def pg_connect(cls: Any, *args: Any, **kwargs: Any) -> Any:
                conn = original_pg(cls, *args, **kwargs)
                log._pg_attach(conn)
                return conn

            def pg_close(conn: Any) -> None:
                if not conn.closed:
                    conn.pgconn.untrace()  # flush what it sent before the stream is orphaned
                original_close(conn)

            psycopg.Connection.connect = classmethod(pg_connect)  # type: ignore[method-assign,assignment]
            psycopg.connect = psycopg.Connection.connect  # type: ignore[assignment]
            psycopg.Connection.close = pg_close  # type: ignore[method-assign,assignment]

    @contextlib.contextmanager
    def counting(self) -> Iterator[Counted]:
        counted = Counted()
        mark = self._pg_mark() if self.engine == "postgresql" else 0
        with self.lock:
            self.current = counted
        try:
            yield counted
        finally:
            if self.engine == "postgresql":
                all_sent = self._pg_statements(mark, self._pg_mark())
                # What connect() attributed to setup was sent in this window too: keep the rest.
                for sql in counted.setup:
                    with contextlib.suppress(ValueError):
                        all_sent.remove(sql)
                counted.statements = all_sent
            with self.lock:
                self.current = None


def _listens(signal: Any, receiver: Callable[..., Any]) -> bool:
    """Whether receiver is connected to signal (disconnect answers that; it is connected again)."""
    if signal.disconnect(receiver):
        signal.connect(receiver)
        return True
    return False


class TestClientTransport:
    """Django's test Client, with connections closed or kept as the server's request signals would: the
    test Client keeps Django's close_old_connections from its request_started / request_finished, so it
    is called here, before and after each request, wherever the server's code leaves it connected."""

    def __init__(self, token: str) -> None:
        from django.core.signals import request_finished, request_started
        from django.db import close_old_connections
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
        self.on_start = _listens(request_started, close_old_connections)
        self.on_finish = _listens(request_finished, close_old_connections)

    def _request(self, send: Callable[[], Any]) -> Any:
        from django.db import close_old_connections

        if self.on_start:
            close_old_connections()
        response = send()
        if self.on_finish:
            close_old_connections()
        return response

    def post(self, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, Any]:
        response = self._request(lambda: self.client.post(
            f"/api/v1{path}", data=json.dumps(body) if body is not None else "", content_type="application/json",
            headers=headers or {},
        ))
        return response.status_code, json.loads(response.content) if response.content else None

    def get(self, path: str) -> Any:
        response = self._request(lambda: self.client.get(f"/api/v1{path}"))
        assert response.status_code == 200, response.content
        return json.loads(response.content)


def count_statements(repeat: int = 5, warmup: int = 2) -> dict[str, Any]:
    """In this process, on DATABASE_URL (fresh): statements per operation. Returns JSON-ready figures."""
    os.environ.update(BENCH_ENV)
    os.environ["DJANGO_SETTINGS_MODULE"] = "swarmsite.settings"
    engine = "postgresql" if os.environ["DATABASE_URL"].startswith("postgres") else "sqlite"
    import django

    log = StatementLog(engine)
    django.setup()
    from io import StringIO

    from django.core.management import call_command

    import swarmsite.asgi  # noqa: F401  (what the server's entry point sets up at import, set up here too)

    call_command("migrate", verbosity=0, interactive=False)
    tokens = {}
    for scope in ("admin", "agent"):
        out = StringIO()
        call_command("create_api_token", f"count-{scope}", scope=scope, stdout=out)
        tokens[scope] = out.getvalue().strip()
    admin, client = TestClientTransport(tokens["admin"]), TestClientTransport(tokens["agent"])
    agent = Agent(0)
    setup_agent(agent, admin, client, repeat + warmup, "count")
    identity_status(agent, admin.get)
    supply = {"claim": send, "plain_claim": enqueue}
    results: dict[str, Any] = {}
    for name, _label, step in OPS:
        counts = []
        for i in range(warmup + repeat):
            if name in supply:  # a batch to claim, made outside the count
                supply[name](agent, client)
            if name == "complete" and not agent.claims:
                send(agent, client)
                claim(agent, client)
            if name == "plain_complete" and not agent.plain_claims:
                enqueue(agent, client)
                plain_claim(agent, client)
            if name == "release" and not agent.held:
                lease_acquire(agent, client)
            if name == "acquire" and not agent.free:
                lease_release(agent, client)
            with log.counting() as counted:
                made = step(agent, client)
            assert made, f"{name}: nothing to do"
            if i >= warmup:
                counts.append(counted)
        middle = sorted(counts, key=lambda c: len(c.statements))[len(counts) // 2]
        results[name] = {
            "statements": [len(c.statements) for c in counts],
            "setup": [len(c.setup) for c in counts],
            "connections": [c.connections for c in counts],
            "sql": middle.statements,
            "setup_sql": middle.setup,
        }
    return results


# -- report ------------------------------------------------------------------------------------------


def spread(values: list[int]) -> str:
    mid = int(median(values))
    return f"{mid}" if max(values) == mid else f"{mid} (max {max(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each operation (median)")
    parser.add_argument("--workers", type=int, default=4, help="client processes, one agent each")
    parser.add_argument("--pool", type=int, default=100, help="identities per worker to acquire and release")
    parser.add_argument("--show-sql", action="store_true", help="print each operation's statements")
    parser.add_argument("--count-only", action="store_true", help="statement counts only (no server)")
    parser.add_argument("--count-statements", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.count_statements:
        print(json.dumps(count_statements()))
        return
    engine = "PostgreSQL" if args.pg else "SQLite"
    count_db = fresh_postgres_url("bench_ops_count") if args.pg else \
        f"sqlite:///{tempfile.mkdtemp(prefix='swarmbench-')}/count.sqlite3"
    env = dict(os.environ, DATABASE_URL=count_db)
    child = subprocess.run([PY, "-m", "bench.ops", "--count-statements"], cwd=ROOT, env=env, capture_output=True,
                           text=True)
    if child.returncode != 0:
        sys.exit(f"counting statements failed:\n{child.stderr}")
    counts = json.loads(child.stdout.strip().splitlines()[-1])
    load_before = load_average()
    measured = None if args.count_only else measure_rates(fresh_postgres_url("bench_ops") if args.pg else None, args)
    print(f"\n## Agent operations against the no-op ({engine})\n")
    print(f"Machine: {machine()}; load average before {load_before}, after {load_average()}")
    if measured:
        print(f"Load: {args.workers} client processes (one agent each, keep-alive), {args.rounds} interleaved runs "
              f"of {args.seconds:g} s per operation, medians; server: manage.py serve --no-demo --workers 1")
    print("\n| operation | req/s (median) | runs | rate / no-op | server CPU per request | statements | connection |")
    print("|---|---|---|---|---|---|---|")
    ratios = {}
    for name, label, _step in OPS:
        c = counts[name]
        opened = int(median(c["connections"]))
        setup = f"new, {spread(c['setup'])} setup" if opened else "reused"
        stmts = spread(c["statements"])
        if measured:
            rate, cpu_ms = median(measured.rates[name]), median(measured.cpu_ms[name])
            runs = ", ".join(f"{r:.0f}" for r in measured.rates[name])
            ratios[name] = rate / median(measured.rates["noop"])
            print(f"| {label} | {rate:.0f} | {runs} | {ratios[name]:.2f} | {cpu_ms:.1f} ms | {stmts} | {setup} |")
        else:
            print(f"| {label} | | | | | {stmts} | {setup} |")
    print("\nStatements: per request, BEGIN/COMMIT/SAVEPOINT/RELEASE included. Connection: whether the request "
          "opened a new database connection (then with the statements run while it opened) or reused one.")
    print("Server CPU: the serve process and its daphne worker (PostgreSQL's own processes not included).")
    if measured and measured.short:
        print("Ran out of supply before the end of a run (rate counted over the time it ran): "
              + ", ".join(f"{name} {n}×" for name, n in measured.short.items()) + ".")
    if args.show_sql:
        for name, label, _step in OPS:
            print(f"\n### {label}\n")
            for sql in counts[name]["setup_sql"]:
                print(f"    (setup) {sql[:240]}")
            for sql in counts[name]["sql"]:
                print(f"    {sql[:240]}")
    ratios.pop("noop", None)
    if ratios:
        lowest = min(ratios, key=lambda n: ratios[n])
        print(f"\nratio lowest op/no-op ({lowest}): {ratios[lowest]:.2f}")


if __name__ == "__main__":
    main()
