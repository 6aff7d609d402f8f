"""A client generated from the OpenAPI document (openapi-python-client, a kept generator) drives an
agent's whole life against a live server: register, lease, checkpoint, send, claim, complete, append
an output, be respawned, and see its old token refused. Every answer is parsed into the generated
models, so an answer that does not match its documented schema fails here."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from swarmsite.api.assembly import api
from tests.swarmclient.live import PY, Served, manage, served

pytestmark = pytest.mark.django_db(transaction=True)
PACKAGE = "swarmsite_api_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("generated")
    document = out / "openapi.json"
    document.write_text(json.dumps(api.get_openapi_schema()))
    generator = Path(PY).parent / "openapi-python-client"
    subprocess.run([str(generator), "generate", "--path", str(document), "--meta", "none", "--output-path",
                    str(out / PACKAGE)], cwd=out, check=True, capture_output=True, text=True)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def operation(name: str) -> ModuleType:
    """The generated module of an operation id (`identities_acquire_lease` → api/identities/...)."""
    resource = name.split("_", 1)[0]
    return importlib.import_module(f"{PACKAGE}.api.{resource}.{name}")


def body_of(module: ModuleType, fields: dict[str, Any]) -> Any:
    """The operation's generated request model, built from plain fields."""
    models = [v for k, v in vars(module).items() if k.endswith("In") and hasattr(v, "from_dict")]
    assert len(models) == 1, (module.__name__, models)
    return models[0].from_dict(fields)


def call(client: Any, name: str, *args: Any, status: int = 200, body: dict[str, Any] | None = None,
         **kwargs: Any) -> Any:
    module = operation(name)
    if body is not None:
        kwargs["body"] = body_of(module, body)
    response = module.sync_detailed(*args, client=client, **kwargs)
    assert response.status_code == status, (name, response.status_code, response.content)
    assert response.parsed is not None, (name, response.content)
    return response.parsed


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    with served(tmp_path) as live:
        yield live, manage(live.env, "create_api_token", "generated-agent", "--scope", "agent")


def test_a_generated_client_runs_an_agents_whole_life(generated: ModuleType, server: tuple[Served, str]) -> None:
    live, agent_secret = server
    ops = generated.AuthenticatedClient(base_url=live.url, token=live.token, raise_on_unexpected_status=True)
    agent = generated.AuthenticatedClient(base_url=live.url, token=agent_secret, raise_on_unexpected_status=True)
    me = uuid.uuid4()

    call(ops, "identities_create", status=201, body={"identity": "gen-alpha", "profile": "worker"})
    assert call(agent, "agents_register", me, body={"name": "generated"}).state == "online"
    grant = call(agent, "identities_acquire_lease", "gen-alpha", body={"agent_id": str(me)})
    token = grant.fencing_token
    saved = call(agent, "identities_save_checkpoint", "gen-alpha", status=201,
                 body={"fencing_token": token, "data": base64.b64encode(b'{"step": 1}').decode()})
    assert saved.version == 1
    call(ops, "identities_send", "gen-alpha", body={"content": {"text": "hello"}})
    session = call(agent, "identities_get_status", "gen-alpha").session_id
    claim = call(agent, "sessions_queue_claim", session, body={"agent_id": str(me)}, fencing_token=str(token))
    batch_ids = [b.batch_id for b in claim.batches]
    done = call(agent, "sessions_queue_complete", session, body={
        "claim_id": claim.claim_id, "lease_token": claim.lease_token, "batch_ids": batch_ids,
        "fencing_token": token})
    assert done.completed_batch_ids == batch_ids
    out = call(agent, "outputs_append", status=201, body={
        "task_id": "greeting", "attempt": 0, "producer_agent": "gen-alpha", "fencing_token": token,
        "event": {"type": "final", "content": {"kind": "inline", "text": "HELLO"}, "ok": True}})
    assert out.ref.startswith("out-") and out.fencing_token == token
    respawned = call(ops, "identities_respawn", "gen-alpha", body={"reason": "generated client test"})
    assert respawned.fencing_token > token

    stale = operation("identities_save_checkpoint").sync_detailed(
        "gen-alpha", client=agent,
        body=body_of(operation("identities_save_checkpoint"), {"fencing_token": token, "data": "e30="}))
    assert stale.status_code == 409
    assert stale.parsed.code == "stale_fencing_token"
