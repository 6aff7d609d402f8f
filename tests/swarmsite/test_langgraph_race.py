"""The racing-workers example: worker A is fenced out mid-run, worker B resumes the thread from the last
good checkpoint and finishes; the thread's checkpoint chain never forks."""

from __future__ import annotations

from typing import Any

import pytest

from swarmclient import SwarmClient
from swarmsite.demo.langgraph_race import race
from swarmsite.models import ApiToken


@pytest.mark.timeout(180)
def test_stalled_worker_is_fenced_out_and_the_other_finishes_from_the_last_checkpoint(live_server: Any) -> None:
    token = ApiToken.issue("langgraph-race", ApiToken.Scope.ADMIN)[1]
    url = live_server.url + "/api/v1"
    result = race(url, token, identity="lg-racer", thread_id="race-1", lease_ttl_s=1.0)

    assert result.stale_error is not None and result.stale_error.code == "stale_fencing_token"
    # A ran plan and fetch; B resumed at compute and finished: every node ran once, none repeated.
    assert result.final["steps"] == ["plan:a", "fetch:a", "compute:b", "report:b"]
    assert result.final["total"] == ((((1 * 2 + 4) * 2 + 5) * 2 + 7) * 2 + 6)
    assert result.token_b > result.token_a
    # One linear chain: each checkpoint's parent is the one before it, and A wrote nothing after B took over.
    chain = result.chain
    assert [c["parent"] for c in chain[:-1]] == [c["checkpoint_id"] for c in chain[1:]]
    assert chain[-1]["parent"] is None
    assert [c["step"] for c in chain] == [4, 3, 2, 1, 0, -1]
    tokens = [c["fencing_token"] for c in reversed(chain)]
    assert tokens == sorted(tokens) and tokens[-1] == result.token_b and tokens[0] == result.token_a

    swarm = SwarmClient(url, token, retries=0)
    rejections = swarm.rejections("lg-racer")
    items = rejections["items"] if isinstance(rejections, dict) else rejections
    assert any(r["presented_token"] == result.token_a and r["operation"].startswith("thread.") for r in items)
