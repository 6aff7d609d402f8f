"""SwarmsiteSession against the OpenAI Agents SDK's own Session protocol and Runner, with a deterministic
model (no network, no API key), talking to a live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, Runner, set_tracing_disabled
from agents.items import ModelResponse
from agents.memory import Session
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from swarmclient.errors import StaleFencingToken
from swarmclient.openai_agents import SwarmsiteSession
from swarmsite.models import ApiToken


class EchoModel(Model):
    """Answers with how many user turns it was shown, so the test sees what history the session gave it."""

    def __init__(self) -> None:
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> ModelResponse:
        self.inputs.append(input)
        turns = input if isinstance(input, list) else [{"role": "user", "content": input}]
        users = [i for i in turns if isinstance(i, dict) and i.get("role") == "user"]
        text = f"seen {len(users)} user turns"
        message = ResponseOutputMessage(
            id="msg", type="message", role="assistant", status="completed",
            content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


@pytest.fixture(autouse=True)
def _no_sdk_trace_export() -> None:
    set_tracing_disabled(True)  # the SDK would try to upload its traces to OpenAI


@pytest.fixture
def api(live_server: Any, transactional_db: None) -> tuple[str, str]:
    return live_server.url + "/api/v1", ApiToken.issue("agents-session", ApiToken.Scope.ADMIN)[1]


def test_runner_keeps_history_across_turns_in_a_fenced_session(api: tuple[str, str]) -> None:
    url, token = api
    session = SwarmsiteSession("chat-1", url=url, token=token, identity="helper", retries=0)
    assert isinstance(session, Session)
    model = EchoModel()
    agent = Agent(name="helper", instructions="be brief", model=model)

    async def two_turns() -> tuple[str, str]:
        first = await Runner.run(agent, "hello", session=session)
        second = await Runner.run(agent, "again", session=session)
        return str(first.final_output), str(second.final_output)

    assert asyncio.run(two_turns()) == ("seen 1 user turns", "seen 2 user turns")
    items = asyncio.run(session.get_items())
    assert [i.get("role") for i in items] == ["user", "assistant", "user", "assistant"]
    assert asyncio.run(session.get_items(limit=1))[0]["role"] == "assistant"
    # A fresh session object over the same id (another process) sees the same history.
    reopened = SwarmsiteSession("chat-1", url=url, token=token, retries=0)
    assert len(asyncio.run(reopened.get_items())) == 4
    session.close()


def test_pop_clear_and_prune_follow_the_protocol(api: tuple[str, str]) -> None:
    url, token = api
    session = SwarmsiteSession("chat-2", url=url, token=token, retries=0)
    assert asyncio.run(session.pop_item()) is None
    asyncio.run(session.add_items([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]))
    assert asyncio.run(session.pop_item()) == {"role": "user", "content": "b"}
    assert asyncio.run(session.get_items()) == [{"role": "user", "content": "a"}]
    session.prune_history()
    assert len(session.client.list_thread_checkpoints("chat-2")) == 1
    asyncio.run(session.clear_session())
    assert asyncio.run(session.get_items()) == []


def test_a_session_whose_lease_was_taken_over_cannot_add_items(api: tuple[str, str]) -> None:
    url, token = api
    old = SwarmsiteSession("chat-3", url=url, token=token, identity="helper-2", lease_ttl_s=0.5, retries=0)
    asyncio.run(old.add_items([{"role": "user", "content": "mine"}]))
    old.lease.stop_renewing()
    time.sleep(0.8)  # the old worker's lease runs out (a real TTL on a live server)
    new = SwarmsiteSession("chat-3", url=url, token=token, identity="helper-2", retries=0)
    asyncio.run(new.add_items([{"role": "user", "content": "new owner"}]))
    with pytest.raises(StaleFencingToken):
        asyncio.run(old.add_items([{"role": "user", "content": "zombie"}]))
    assert [i["content"] for i in asyncio.run(new.get_items())] == ["mine", "new owner"]
    new.close()
