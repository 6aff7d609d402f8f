"""Identities, leases, delivery and checkpoints through the client against the real app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import time_machine
from django.utils import timezone

from swarmclient import (
    DuplicateIdentity,
    LeaseHeld,
    LeaseLost,
    NoActiveLease,
    StaleFencingToken,
    SwarmClient,
    UnknownIdentity,
    final,
)
from tests.swarmclient.conftest import roster_identity

Make = Callable[..., SwarmClient]


def online(swarm: SwarmClient, name: str = "worker") -> SwarmClient:
    swarm.register(name=name)
    return swarm


def test_create_identity_twice_raises_duplicate_identity(swarm: SwarmClient) -> None:
    status = swarm.create_identity("alpha", "worker", labels={"team": "blue"})
    assert status["state"] == "active" and status["labels"] == {"team": "blue"}
    with pytest.raises(DuplicateIdentity):
        swarm.create_identity("alpha", "worker")
    with pytest.raises(UnknownIdentity):
        swarm.identity_status("ghost")


def test_lease_context_acquires_checkpoints_and_releases_on_exit(swarm: SwarmClient) -> None:
    swarm.create_identity("alpha", "worker")
    online(swarm)
    assert swarm.latest_checkpoint("alpha") is None
    with swarm.lease("alpha", renew_every_s=60) as lease:
        assert lease.token > 0 and lease.fence == {"identity": "alpha", "fencing_token": lease.token}
        status = swarm.identity_status("alpha")
        assert status["lease"]["holder"] == str(swarm.agent_id) and status["why_stuck"] is None
        saved = lease.checkpoint(b"\x00state-1")
        assert saved["version"] == 1 and saved["fencing_token"] == lease.token
    latest = swarm.latest_checkpoint("alpha")
    assert latest["data"] == b"\x00state-1" and latest["version"] == 1
    status = swarm.identity_status("alpha")
    assert status["lease"]["last_holder"] == str(swarm.agent_id) and status["lease"]["ttl_remaining_ms"] == 0


def test_lease_held_by_another_agent_names_the_holder(swarm: SwarmClient, make_swarm: Make) -> None:
    swarm.create_identity("alpha", "worker")
    holder, other = online(make_swarm()), online(make_swarm())
    with holder.lease("alpha", renew_every_s=60):
        with pytest.raises(LeaseHeld) as excinfo, other.lease("alpha"):
            pass
    assert excinfo.value.holder == str(holder.agent_id) and excinfo.value.expires_at


def test_write_after_a_takeover_raises_stale_fencing_token_and_marks_the_lease_lost(
    swarm: SwarmClient, make_swarm: Make
) -> None:
    swarm.create_identity("alpha", "worker")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = online(make_swarm())
        old = first.lease("alpha", ttl_s=5, renew_every_s=3600).__enter__()
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        second = online(make_swarm())
        with second.lease("alpha", renew_every_s=3600) as new:
            with pytest.raises(StaleFencingToken) as excinfo:
                old.checkpoint(b"late")
            assert excinfo.value.current_token == new.token
            assert old.lost.is_set() and not new.lost.is_set()
            with pytest.raises(StaleFencingToken):
                old.check()
            old.__exit__(None, None, None)  # lost: exits without releasing the new owner's lease
            assert swarm.identity_status("alpha")["lease"]["holder"] == str(second.agent_id)
        rejected = swarm.rejections("alpha")["items"]
    assert [(r["presented_token"], r["current_token"]) for r in rejected] == [(old.token, new.token)]


@pytest.mark.django_db(transaction=True)
def test_background_renewal_that_finds_the_lease_gone_sets_lost(live_token: str,
                                                                live_transport: httpx.WSGITransport) -> None:
    swarm = SwarmClient("http://testserver", live_token, transport=live_transport, retries=0)
    swarm.create_identity("alpha", "worker")
    online(swarm)
    seen: list[object] = []
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lease = swarm.lease("alpha", ttl_s=5, renew_every_s=0.05, on_lost=seen.append).__enter__()
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        assert lease.lost.wait(timeout=10), "renewal never noticed the expired lease"
        lease.__exit__(None, None, None)
    assert isinstance(lease.lost_error, LeaseLost) and seen == [lease]


def test_send_claim_append_and_complete_under_the_lease(swarm: SwarmClient) -> None:
    swarm.create_identity("alpha", "worker")
    online(swarm)
    with pytest.raises(NoActiveLease):
        swarm.send("alpha", {"text": "too early"})
    with swarm.lease("alpha", renew_every_s=60) as lease:
        delivery = swarm.send("alpha", {"text": "hello"}, idempotency_key="msg-1")
        assert swarm.send("alpha", {"text": "hello"}, idempotency_key="msg-1")["batch_id"] == delivery["batch_id"]
        session = str(delivery["session_id"])
        claim = swarm.claim(session)
        assert claim is not None and claim["owner_id"] == str(swarm.agent_id)
        payload = claim["batches"][0]["items"][0]["payload"]
        assert payload["type"] == "turn_input" and payload["input"]["content"] == {"text": "hello"}
        out = lease.append_output("task-1", 0, final("HELLO"))
        assert out["producer_agent"] == "alpha" and out["fencing_token"] == lease.token
        done = lease.complete_claim(session, claim)
        assert done["completed_batch_ids"] == [delivery["batch_id"]]
        assert swarm.claim(session) is None
        assert swarm.inspect("alpha")["output_preview"] == "ok: HELLO"


def test_dispatch_reaches_internal_only_identities(swarm: SwarmClient) -> None:
    swarm.create_identity("quiet", "worker", addressability="internal_only")
    online(swarm)
    with swarm.lease("quiet", renew_every_s=60):
        delivery = swarm.dispatch("quiet", "tick", origin="scheduler", correlation_id="c-1")
    assert delivery["batch_id"]


def test_poll_events_yields_in_order_and_resumes_after_the_last_id(swarm: SwarmClient) -> None:
    swarm.create_identity("alpha", "worker")
    online(swarm)
    with swarm.lease("alpha", renew_every_s=60):
        pass
    events = []
    for event in swarm.poll_events("alpha", poll_s=0):
        events.append(event)
        if event["kind"] == "identity.lease_released":
            break
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "identity.registered" and "identity.lease_acquired" in kinds
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    resumed = swarm.events("alpha", after=events[1]["id"])
    assert [e["id"] for e in resumed] == [e["id"] for e in events[2:]]


def test_restore_roster_again_resumes_identities_that_checkpointed(swarm: SwarmClient) -> None:
    roster = [roster_identity("a"), roster_identity("b"), roster_identity("c")]
    first = swarm.restore_roster(roster, topology=[("a", "b"), ("b", "c")])
    assert {o["outcome"] for o in first["outcomes"]} == {"created"}
    with online(swarm).lease("a", renew_every_s=60) as lease:
        lease.checkpoint(b"progress")
    again = swarm.restore_roster(roster, topology=[("a", "b"), ("b", "c")])
    assert {o["identity"]: o["outcome"] for o in again["outcomes"]} == {"a": "resumed", "b": "created",
                                                                          "c": "created"}
    assert sorted(swarm.peers("b")["peers"]) == ["a", "c"]
    assert swarm.peer_edges()["edges"] == [["a", "b"], ["b", "c"]]
    changed = swarm.set_peer_edges([("a", "c")])
    assert changed["added"] == [["a", "c"]] and len(changed["removed"]) == 2


def test_recovery_actions_fence_the_owner(swarm: SwarmClient, make_swarm: Make) -> None:
    swarm.create_identity("alpha", "worker")
    owner = online(make_swarm())
    with owner.lease("alpha", renew_every_s=60) as lease:
        action = swarm.respawn("alpha", reason="stuck")
        assert action["fencing_token"] > lease.token
        with pytest.raises(StaleFencingToken):
            lease.checkpoint(b"after respawn")
        assert lease.lost.is_set()
    assert swarm.audit("alpha")["items"][0]["action"] == "respawned"
    assert swarm.retire("alpha")["status"]["state"] == "retiring"
