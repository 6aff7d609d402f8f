"""owned_writes: the ownership rule for a batch of writes (SPEC 4), on every backend. Each distinct
(resource, fence) is authorized once by the same rule as owned_write; one refusal refuses the batch."""

from __future__ import annotations

import uuid

import pytest

from identities.types import Caller, Owned
from stores.errors import FenceMismatch, FencingTokenRequired, StaleFencingToken
from stores.output_types import OutputDraft, Progress
from stores.types import Fence
from tests.identities.conftest import Harness, spec

AGENT = Caller(name="agent-token", privileged=False)
OPERATOR = Caller(name="ops", privileged=True)


def leased(h: Harness, identity: str) -> tuple[uuid.UUID, int]:
    h.runtime.create_identity(spec(identity))
    agent = h.online_agent()
    return agent, h.runtime.acquire_lease(identity, agent).fencing_token


def test_a_batch_binds_each_owned_write_to_its_owner_and_leaves_unowned_ones_unfenced(h: Harness) -> None:
    agent, token = leased(h, "alpha")
    writes = [("alpha", Fence("", token)), ("tool-x", None), ("alpha", Fence("", token))]
    with h.runtime.owned_writes(Owned.IDENTITY, writes, operation="output.append", caller=AGENT) as bound:
        records = h.outputs.append_many([OutputDraft("t", 0, producer, Progress(stage="s"), fence=fence)
                                         for (producer, _), fence in zip(writes, bound, strict=True)])
    assert bound[0] == bound[2] == Fence("alpha", token, agent) and bound[1] is None
    assert [(r.producer_agent, r.identity, r.fencing_token) for r in records] == [
        ("alpha", "alpha", token), ("tool-x", None, None), ("alpha", "alpha", token)
    ]


def test_one_stale_write_refuses_the_whole_batch_and_is_recorded_once(h: Harness) -> None:
    old_agent, old = leased(h, "alpha")
    _, beta = leased(h, "beta")
    h.runtime.release_lease("alpha", old_agent, old)
    new = h.runtime.acquire_lease("alpha", h.online_agent()).fencing_token
    writes = [("beta", Fence("", beta)), ("alpha", Fence("", old)), ("alpha", Fence("", old))]
    with pytest.raises(StaleFencingToken), \
            h.runtime.owned_writes(Owned.IDENTITY, writes, operation="output.append", caller=AGENT):
        raise AssertionError("a refused batch never runs")
    [rejection] = h.runtime.registry().list_rejections(identity="alpha").items
    assert (rejection.presented_token, rejection.current_token, rejection.caller) == (old, new, "agent-token")


@pytest.mark.parametrize("fence", [None, "beta"], ids=["no-token", "another-identitys-token"])
def test_a_write_without_the_owners_token_refuses_the_batch(h: Harness, fence: str | None) -> None:
    _, token = leased(h, "alpha")
    _, beta = leased(h, "beta")
    writes = [("alpha", Fence("", token)), ("alpha", Fence("", beta) if fence else None)]
    expected = FenceMismatch if fence else FencingTokenRequired
    with pytest.raises(expected), h.runtime.owned_writes(Owned.IDENTITY, writes, operation="output.append",
                                                         caller=AGENT):
        raise AssertionError("a refused batch never runs")


def test_an_operators_batch_is_unfenced_and_audited_once_per_owned_resource(h: Harness) -> None:
    leased(h, "alpha")
    writes = [("alpha", None), ("alpha", None), ("tool-x", None)]
    with h.runtime.owned_writes(Owned.IDENTITY, writes, operation="output.append", caller=OPERATOR) as bound:
        assert bound == [None, None, None]
    audit = [a for a in h.runtime.registry().list_audit(identity="alpha").items if a.action == "unfenced_write"]
    assert [(a.actor, a.result) for a in audit] == [("ops", {"operation": "output.append",
                                                              "resource": "identity:alpha"})]
