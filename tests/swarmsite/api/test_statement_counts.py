"""How many SQL statements each agent operation costs, pinned so they cannot creep back.

Counted through the real URL conf, token and database, with the token already verified (it is kept in
memory: swarmsite/token_cache.py). Inside the test's transaction each of the operation's own
transactions shows as SAVEPOINT + RELEASE, which stand for its BEGIN + COMMIT."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from swarmsite.models import ApiToken

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def call(client: Client, method: str, path: str, body: Any = None, token: int | None = None) -> Any:
    headers = {"Fencing-Token": str(token)} if token is not None else {}
    data = json.dumps(body) if body is not None else None
    return getattr(client, method)(path, data=data, content_type="application/json", headers=headers)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json() if response.content else None


@dataclass
class Agent:
    client: Client
    operator: Client
    agent: str
    token: int
    session: str
    runtime: str


@pytest.fixture
def worker() -> Agent:
    _, secret = ApiToken.issue("worker", "agent")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    _, op_secret = ApiToken.issue("ops", "operator")
    operator = Client(headers={"Authorization": f"Bearer {op_secret}"})
    ok(call(operator, "post", f"{V1}/identities", {"identity": "alpha", "profile": "worker"}), 201)
    agent = str(uuid.uuid4())
    ok(call(client, "post", f"{V1}/agents/{agent}/register"))
    token = int(ok(call(client, "post", f"{V1}/identities/alpha/lease", {"agent_id": agent}))["fencing_token"])
    status = ok(client.get(f"{V1}/identities/alpha"))
    return Agent(client, operator, agent, token, status["session_id"], status["agent_runtime_id"])


def statements(action: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [q["sql"] for q in captured.captured_queries]


def commit_body(token: int) -> dict[str, Any]:
    return {"config": {"provider_id": "p", "model": "m"}, "fencing_token": token,
            "graph": {"mode": "append", "nodes": [{"node_id": f"n-{uuid.uuid4().hex[:8]}", "payload": {}}]},
            "checkpoint": {"turn_state": {"t": 1}}}


def operations(w: Agent) -> dict[str, Any]:
    """Each operation once, in an order where every one succeeds."""
    c, s = w.client, w.session
    claimed: dict[str, Any] = {}

    def claim() -> None:
        claimed.update(ok(call(c, "post", f"{V1}/sessions/{s}/queue/claim", {"agent_id": w.agent}, w.token)))

    def complete() -> None:
        ok(call(c, "post", f"{V1}/sessions/{s}/queue/complete", {
            "claim_id": claimed["claim_id"], "lease_token": claimed["lease_token"],
            "batch_ids": [b["batch_id"] for b in claimed["batches"]], "fencing_token": w.token}))

    return {
        "heartbeat": lambda: ok(call(c, "post", f"{V1}/agents/{w.agent}/heartbeat")),
        "lease renew": lambda: ok(call(c, "post", f"{V1}/identities/alpha/lease/renew",
                                       {"agent_id": w.agent, "fencing_token": w.token})),
        "checkpoint": lambda: ok(call(c, "post", f"{V1}/identities/alpha/checkpoints",
                                      {"fencing_token": w.token, "data": base64.b64encode(b"x" * 1024).decode()}),
                                 201),
        "send": lambda: ok(call(c, "post", f"{V1}/identities/alpha/send", {"content": "hello"})),
        "claim": claim,
        "complete": complete,
        "output append": lambda: ok(call(c, "post", f"{V1}/outputs", {
            "task_id": "t", "attempt": 0, "producer_agent": "alpha", "event": {"type": "progress", "stage": "s"},
            "fencing_token": w.token}), 201),
        "session commit": lambda: ok(call(c, "post", f"{V1}/sessions/{s}/commit", commit_body(w.token))),
        "lease release": lambda: ok(call(c, "post", f"{V1}/identities/alpha/lease/release",
                                         {"agent_id": w.agent, "fencing_token": w.token}), 204),
        "lease acquire": lambda: ok(call(c, "post", f"{V1}/identities/alpha/lease", {"agent_id": w.agent})),
    }


def measure(w: Agent) -> dict[str, list[str]]:
    ok(call(w.client, "post", f"{V1}/noop"))  # the token is verified once, then served from memory
    ok(call(w.client, "post", f"{V1}/identities/alpha/send", {"content": "warm"}))  # the session exists
    return {name: statements(action) for name, action in operations(w).items()}


# Statements per operation; on PostgreSQL a durable event also takes the event log's append lock
# (one statement more per logged event: stores/backends/orm/events.py), and an output append wakes
# long-polls in other processes (NOTIFY).
PINS = {
    "heartbeat": 1,  # one conditional UPDATE ... RETURNING; broadcast live only
    "lease renew": 7,
    "checkpoint": 12,
    "send": 16,
    "claim": 9,
    "complete": 8,
    "output append": 9,
    "session commit": 12,
    "lease release": 9,
    "lease acquire": 10,
}
POSTGRESQL_EXTRA = {"heartbeat": 0, "lease renew": 0, "send": 2, "output append": 2}  # the others: 1


def test_each_operation_costs_its_pinned_statements(worker: Agent) -> None:
    counted = measure(worker)
    extra = {name: POSTGRESQL_EXTRA.get(name, 1) if connection.vendor == "postgresql" else 0 for name in PINS}
    seen = {name: len(sqls) for name, sqls in counted.items()}
    expected = {name: PINS[name] + extra[name] for name in PINS}
    off = {name: sqls for name, sqls in counted.items() if len(sqls) != expected[name]}
    assert seen == expected, "\n\n".join(f"{name}: {len(sqls)}\n  " + "\n  ".join(sqls) for name, sqls in off.items())


def test_a_heartbeat_that_is_due_in_the_log_takes_the_full_path(worker: Agent, settings: Any) -> None:
    """The one-statement beat leaves the log's once-a-minute entry to the full path: still written."""
    from stores.models import EventRecord

    logged = EventRecord.objects.filter(kind="agent.heartbeat", subject_id=worker.agent).count()
    ok(call(worker.client, "post", f"{V1}/agents/{worker.agent}/heartbeat"))  # fresh: live only
    assert EventRecord.objects.filter(kind="agent.heartbeat", subject_id=worker.agent).count() == logged
    from stores.models import Agent as AgentRow

    AgentRow.objects.filter(pk=worker.agent).update(heartbeat_logged_at=None)
    ok(call(worker.client, "post", f"{V1}/agents/{worker.agent}/heartbeat"))
    assert EventRecord.objects.filter(kind="agent.heartbeat", subject_id=worker.agent).count() == logged + 1
