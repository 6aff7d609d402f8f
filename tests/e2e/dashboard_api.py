"""An agent's side of the dashboard browser tests: the JSON API over HTTP, as a real agent uses it."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx


class AgentApi:
    def __init__(self, base_url: str, token: str) -> None:
        # A live server's first requests build its backends; on a busy CI machine that outlasts httpx's 5 s.
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"},
                                 timeout=30)

    def create(self, identity: str, **spec: Any) -> None:
        response = self.http.post("/identities", json={"identity": identity, "profile": "worker", **spec})
        assert response.status_code == 201, response.text

    def agent(self, name: str) -> str:
        agent = str(uuid.uuid4())
        assert self.http.post(f"/agents/{agent}/register", json={"name": name}).status_code == 200
        return agent

    def lease(self, identity: str, agent: str, ttl_s: float = 120) -> int:
        response = self.http.post(f"/identities/{identity}/lease", json={"agent_id": agent, "ttl_s": ttl_s})
        assert response.status_code == 200, response.text
        return int(response.json()["fencing_token"])

    def checkpoint(self, identity: str, agent: str, token: int, state: Any) -> httpx.Response:
        data = base64.b64encode(json.dumps(state).encode()).decode()
        body = {"fencing_token": token, "agent_id": agent, "data": data}
        return self.http.post(f"/identities/{identity}/checkpoints", json=body)
