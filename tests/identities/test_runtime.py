"""The runtime cases of semantics 3.8, ported and adapted per SPEC 4 (leases belong to online agents,
recovery fences first, the registry lives in storage), run on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from identities.errors import (
    DuplicateIdentity,
    InvalidState,
    LeaseHeld,
    LeaseLost,
    NoActiveLease,
    NotAddressable,
    UnknownIdentity,
)
from identities.types import (
    Addressability,
    ContinuityRecord,
    DispatchInput,
    IdentityState,
    LeaseGrant,
    LeaseState,
    ResolveKind,
)
from stores.errors import AgentExpired, NotFound, StaleCheckpointVersion, StaleFencingToken
from tests.identities.conftest import Harness, build, internal, spec


def own(h: Harness, identity: str = "alpha", **fields: object) -> tuple[uuid.UUID, LeaseGrant]:
    """Create the identity and give a fresh online agent its lease."""
    if not h.runtime.contains(identity):
        h.runtime.create_identity(spec(identity, **fields))  # type: ignore[arg-type]
    agent = h.online_agent()
    return agent, h.runtime.acquire_lease(identity, agent)


def kinds(h: Harness, identity: str) -> list[str]:
    return [e.kind for e in h.runtime.subscribe(identity)]


# 1-4: send and dispatch ---------------------------------------------------------------------------
def test_send_to_addressable_returns_the_lease_token(h: Harness) -> None:
    _, grant = own(h)
    delivery = h.runtime.send_text("alpha", "hello")
    assert delivery.fencing_token == grant.fencing_token
    assert delivery.batch_id is not None


def test_send_to_internal_only_is_not_addressable(h: Harness) -> None:
    h.runtime.create_identity(internal("quiet"))
    h.runtime.acquire_lease("quiet", h.online_agent())
    with pytest.raises(NotAddressable) as excinfo:
        h.runtime.send_text("quiet", "hello")
    assert excinfo.value.context == {"identity": "quiet", "addressability": "internal_only"}


def test_send_or_status_of_unknown_identity_is_unknown(h: Harness) -> None:
    with pytest.raises(UnknownIdentity):
        h.runtime.send_text("ghost", "hello")
    with pytest.raises(UnknownIdentity):
        h.runtime.status("ghost")


def test_dispatch_reaches_addressable_and_internal_only_and_reports_durability(h: Harness) -> None:
    own(h, "alpha")
    h.runtime.create_identity(internal("quiet"))
    h.runtime.acquire_lease("quiet", h.online_agent())
    for identity in ("alpha", "quiet"):
        delivery = h.runtime.dispatch_text(identity, "tick")
        assert delivery.is_durable is (h.backend == "orm")
    bare = build(h.backend, inbox=False)
    own(bare, "solo")
    assert bare.runtime.dispatch_text("solo", "tick").is_durable is False


def test_send_lands_in_the_current_session_inbox_once_per_idempotency_key(h: Harness) -> None:
    own(h)
    record = h.runtime.continuity_record("alpha")
    assert record is not None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = h.runtime.send("alpha", {"text": "hi"}, idempotency_key="k-1")
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        again = h.runtime.send("alpha", {"text": "hi"}, idempotency_key="k-1")
    assert again.batch_id == first.batch_id
    batches = h.persistence.open(str(record.session_id)).list_queued_work(str(record.session_id))
    assert len(batches) == 1
    body = batches[0].items[0].payload.body
    assert body["content"] == {"text": "hi"} and body["fencing_token"] == first.fencing_token
    assert kinds(h, "alpha").count("identity.message_delivered") == 1


# 5-6: registry and status -------------------------------------------------------------------------
def test_contains_after_register(h: Harness) -> None:
    h.runtime.register(spec("alpha"))
    assert h.runtime.contains("alpha") and h.runtime.is_active("alpha")
    assert not h.runtime.contains("beta")


def test_status_reports_the_full_set(h: Harness) -> None:
    session = uuid.uuid4()
    store = h.runtime.continuity_store()
    h.runtime.register(
        spec("alpha", display_name="Alpha", runtime_mode_override="autonomous"),
        continuity=ContinuityRecord("alpha", "rt:alpha:1", session, 1, 4),
    )
    agent = h.online_agent()
    grant = h.runtime.acquire_lease("alpha", agent)
    store.save_session_snapshot("alpha", session, 1, 5, grant.fencing_token, b"five")
    status = h.runtime.status("alpha")
    assert status.state == IdentityState.ACTIVE
    assert (status.agent_runtime_id, status.session_id, status.profile) == ("rt:alpha:1", session, "worker")
    assert status.addressability == Addressability.ADDRESSABLE and status.labels == {"team": "blue"}
    assert (status.display_name, status.runtime_mode) == ("Alpha", "autonomous")
    assert (status.generation, status.checkpoint_version) == (1, 5)
    assert status.lease is not None and status.lease.fencing_token == grant.fencing_token
    assert status.lease.healthy and status.lease.holder == agent
    health = status.continuity_health
    assert health is not None and health.store_reachable and health.durability_policy == "sync_write_through"
    assert health.last_checkpoint_version == 5 and health.last_checkpoint_at is not None
    assert status.why_stuck is None


def test_status_reports_the_configured_durability_policy(backend: str) -> None:
    h = build(backend, durability_policy="async_replicated")
    h.runtime.create_identity(spec("alpha"))
    status = h.runtime.status("alpha")
    assert status.continuity_health is not None
    assert status.continuity_health.durability_policy == "async_replicated"
    assert status.checkpoint_version is None and status.lease is None
    assert status.why_stuck == "no agent has acquired the lease yet"


# 7-10: recovery -----------------------------------------------------------------------------------
def test_retire_fences_the_owner_and_sets_retiring(h: Harness) -> None:
    _, grant = own(h)
    token = h.runtime.retire("alpha", actor="ops", reason="draining")
    assert token > grant.fencing_token
    status = h.runtime.status("alpha")
    assert status.state == IdentityState.RETIRING
    assert status.lease is not None and status.lease.state == LeaseState.FENCED
    with pytest.raises(InvalidState):
        h.runtime.send_text("alpha", "anyone there?")


def test_respawn_keeps_generation_runtime_id_and_session(h: Harness) -> None:
    own(h)
    before = h.runtime.continuity_record("alpha")
    h.runtime.set_state("alpha", IdentityState.SUSPENDED)
    record = h.runtime.respawn("alpha", actor="ops")
    assert record == before and record is not None
    assert (record.generation, record.agent_runtime_id) == (0, "rt:alpha:0")
    assert h.runtime.status("alpha").state == IdentityState.ACTIVE


def test_reset_starts_a_new_generation_and_fences_old_writes(h: Harness) -> None:
    agent, grant = own(h)
    h.runtime.checkpoint("alpha", b"gen0", token=grant.fencing_token, agent_id=agent)
    old = h.runtime.continuity_record("alpha")
    record = h.runtime.reset("alpha", actor="ops")
    assert old is not None
    assert (record.generation, record.checkpoint_version) == (1, 0)
    assert record.session_id != old.session_id and record.agent_runtime_id == "alpha:gen1"
    with pytest.raises(StaleFencingToken):
        h.runtime.continuity_store().save_session_snapshot(
            "alpha", record.session_id, 1, 1, grant.fencing_token, b"zombie"
        )
    assert h.runtime.latest_checkpoint("alpha") is None
    assert [c.archived for c in h.runtime.list_checkpoints("alpha").items] == [True]


def test_delete_makes_the_identity_uninitialized(h: Harness) -> None:
    own(h)
    h.runtime.delete_identity("alpha", actor="admin")
    assert not h.runtime.contains("alpha")
    assert h.runtime.continuity_store().resolve_many(["alpha"])["alpha"].kind == ResolveKind.UNINITIALIZED
    assert h.runtime.status("alpha").state == IdentityState.UNINITIALIZED
    with pytest.raises(InvalidState):
        h.runtime.acquire_lease("alpha", h.online_agent())
    h.runtime.create_identity(spec("alpha"))  # an uninitialized identity may be created again
    assert h.runtime.continuity_record("alpha") is not None


# 11-15: restore_flow ------------------------------------------------------------------------------
def test_restore_flow_on_an_empty_store_creates_every_identity(h: Harness) -> None:
    result = h.runtime.restore_flow([spec("a"), spec("b")])
    assert {k: o.kind.value for k, o in result.outcomes.items()} == {"a": "created", "b": "created"}
    assert all(o.record is not None and o.record.generation == 0 for o in result.outcomes.values())
    assert h.runtime.contains("a") and h.runtime.contains("b")


def test_restore_flow_resumes_a_seeded_record_with_its_snapshot(h: Harness) -> None:
    session = uuid.uuid4()
    store = h.runtime.continuity_store()
    store.upsert_continuity_record(ContinuityRecord("a", "rt:a:0", session, 0, 0), 0)
    store.save_session_snapshot("a", session, 0, 1, 0, b"saved state")
    outcome = h.runtime.restore_flow([spec("a")]).outcomes["a"]
    assert outcome.kind.value == "resumed" and outcome.snapshot == b"saved state"


def test_checkpoint_after_restore_continues_the_stored_session(h: Harness) -> None:
    session = uuid.uuid4()
    store = h.runtime.continuity_store()
    store.upsert_continuity_record(ContinuityRecord("a", "rt:a:0", session, 0, 0), 0)
    store.save_session_snapshot("a", session, 0, 1, 0, b"v1")
    h.runtime.restore_flow([spec("a")])
    agent = h.online_agent()
    grant = h.runtime.acquire_lease("a", agent)
    saved = h.runtime.checkpoint("a", b"v2", token=grant.fencing_token, agent_id=agent)
    assert (saved.version, saved.session_id) == (2, session)
    record = h.runtime.continuity_record("a")
    assert record is not None and (record.session_id, record.checkpoint_version) == (session, 2)


def test_restore_flow_calls_the_customizer_once_per_spec_with_the_whole_roster(h: Harness) -> None:
    calls: list[tuple[str, list[str]]] = []

    def customizer(s, context, draft):  # type: ignore[no-untyped-def]
        calls.append((s.identity, list(context.active_peers)))
        return draft

    h.runtime.restore_flow([spec("a"), spec("b")], customizer=customizer)
    assert calls == [("a", ["a", "b"]), ("b", ["a", "b"])]


def test_restore_flow_reports_broken_continuity_and_keeps_it_visible(h: Harness) -> None:
    store = h.runtime.continuity_store()
    store.upsert_continuity_record(ContinuityRecord("a", "rt:a:0", uuid.uuid4(), 0, 3), 0)
    outcome = h.runtime.restore_flow([spec("a"), spec("b")]).outcomes["a"]
    assert outcome.kind.value == "broken"
    assert outcome.failure is not None and outcome.failure.kind.value == "snapshot_missing"
    assert "no snapshot" in outcome.failure.detail
    status = h.runtime.status("a")
    assert status.state == IdentityState.BROKEN and status.why_stuck and "no snapshot" in status.why_stuck
    with pytest.raises(InvalidState):
        h.runtime.acquire_lease("a", h.online_agent())


# 16-19: checkpoints -------------------------------------------------------------------------------
def test_checkpoint_versions_count_up_and_the_store_refuses_going_back(h: Harness) -> None:
    agent, grant = own(h)
    first = h.runtime.checkpoint("alpha", b"one", token=grant.fencing_token, agent_id=agent)
    assert first.version == 1
    latest = h.runtime.latest_checkpoint("alpha")
    assert latest is not None and latest.data == b"one"
    assert h.runtime.checkpoint("alpha", b"two").version == 2  # mobkit's form: the live lease's token
    record = h.runtime.continuity_record("alpha")
    assert record is not None
    for version in (2, 1):
        with pytest.raises(StaleCheckpointVersion):
            h.runtime.continuity_store().save_session_snapshot(
                "alpha", record.session_id, 0, version, grant.fencing_token, b"again"
            )


def test_checkpoint_with_a_stale_token_is_rejected_and_recorded(h: Harness) -> None:
    old_agent, old = own(h)
    new_agent = h.online_agent()
    h.runtime.release_lease("alpha", old_agent, old.fencing_token)
    new = h.runtime.acquire_lease("alpha", new_agent)
    h.runtime.checkpoint("alpha", b"new owner", token=new.fencing_token, agent_id=new_agent)
    with pytest.raises(StaleFencingToken) as excinfo:
        h.runtime.checkpoint("alpha", b"zombie", token=old.fencing_token, agent_id=old_agent)
    assert excinfo.value.context["current_token"] == new.fencing_token
    latest = h.runtime.latest_checkpoint("alpha")
    assert latest is not None and latest.data == b"new owner"
    [rejection] = h.runtime.registry().list_rejections(identity="alpha").items
    assert (rejection.agent_id, rejection.presented_token, rejection.current_token, rejection.operation) == (
        old_agent, old.fencing_token, new.fencing_token, "checkpoint"
    )
    assert kinds(h, "alpha")[-1] == "identity.stale_write_rejected"


# 20-22: lease invariants --------------------------------------------------------------------------
def test_without_a_lease_send_dispatch_and_checkpoint_have_no_active_lease(h: Harness) -> None:
    h.runtime.create_identity(spec("alpha"))
    for call in (
        lambda: h.runtime.send_text("alpha", "x"),
        lambda: h.runtime.dispatch_text("alpha", "x"),
        lambda: h.runtime.checkpoint("alpha", b"x"),
    ):
        with pytest.raises(NoActiveLease):
            call()


def test_after_mark_lease_lost_send_and_dispatch_have_no_active_lease(h: Harness) -> None:
    own(h)
    h.runtime.mark_lease_lost("alpha")
    with pytest.raises(NoActiveLease):
        h.runtime.send_text("alpha", "x")
    with pytest.raises(NoActiveLease):
        h.runtime.dispatch("alpha", DispatchInput("x"))


def test_reset_and_delete_succeed_over_a_live_holder_with_higher_tokens(h: Harness) -> None:
    agent, grant = own(h)
    h.runtime.reset("alpha")
    assert h.runtime.lease("alpha").fencing_token > grant.fencing_token
    assert h.runtime.lease("alpha").last_holder == agent
    again = h.runtime.acquire_lease("alpha", agent)
    h.runtime.delete_identity("alpha")
    assert h.runtime.lease("alpha").fencing_token > again.fencing_token


def test_a_lease_past_its_ttl_is_lost_and_another_agent_takes_it(h: Harness) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first_agent, first = own(h)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        with pytest.raises(LeaseLost):
            h.runtime.send_text("alpha", "x")
        with pytest.raises(LeaseLost):
            h.runtime.renew_lease("alpha", first_agent, first.fencing_token)
        second_agent = h.online_agent()
        second = h.runtime.acquire_lease("alpha", second_agent)
    assert second.fencing_token > first.fencing_token
    assert "identity.lease_lost" in kinds(h, "alpha")


def test_acquire_while_another_agent_holds_is_lease_held_with_holder_and_expiry(h: Harness) -> None:
    holder, grant = own(h)
    with pytest.raises(LeaseHeld) as excinfo:
        h.runtime.acquire_lease("alpha", h.online_agent())
    assert excinfo.value.context["holder"] == str(holder)
    assert excinfo.value.context["expires_at"] == grant.expires_at.isoformat()


def test_acquire_needs_a_registered_online_agent(h: Harness) -> None:
    h.runtime.create_identity(spec("alpha"))
    with pytest.raises(NotFound):
        h.runtime.acquire_lease("alpha", uuid.uuid4())
    gone = h.online_agent()
    h.lifecycle.deregister(gone)
    with pytest.raises(NotFound):
        h.runtime.acquire_lease("alpha", gone)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        silent = h.online_agent()
    with time_machine.travel(start + timedelta(seconds=31), tick=False), pytest.raises(AgentExpired):
        h.runtime.acquire_lease("alpha", silent)


def test_an_expired_agent_loses_its_leases_at_once(h: Harness) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        h.runtime.create_identity(spec("alpha"))
        agent = h.online_agent()
        grant = h.runtime.acquire_lease("alpha", agent, ttl_s=600)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert [r.agent_id for r in h.lifecycle.expire_silent()] == [agent]
        lease = h.runtime.lease("alpha")
        assert lease.state == LeaseState.LOST and lease.lost_reason == "agent_expired"
        with pytest.raises(LeaseLost):
            h.runtime.checkpoint("alpha", b"x", token=grant.fencing_token, agent_id=agent)
    assert "identity.lease_lost" in kinds(h, "alpha")


def test_the_lease_sweep_persists_expiry_once(h: Harness) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        own(h)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert [lease.identity for lease in h.runtime.expire_leases()] == ["alpha"]
        assert h.runtime.expire_leases() == []
    assert kinds(h, "alpha").count("identity.lease_lost") == 1


def test_renew_extends_and_release_frees(h: Harness) -> None:
    agent, grant = own(h)
    renewed = h.runtime.renew_lease("alpha", agent, grant.fencing_token, ttl_s=90)
    assert renewed.fencing_token == grant.fencing_token and renewed.ttl_ms == 90_000
    assert h.runtime.update_lease("alpha", renewed).fencing_token == grant.fencing_token
    assert h.runtime.release_lease("alpha", agent, grant.fencing_token)
    assert not h.runtime.release_lease("alpha", agent, grant.fencing_token)
    with pytest.raises(NoActiveLease):
        h.runtime.send_text("alpha", "x")


# 23-26: roster, topology, reconcile ---------------------------------------------------------------
def test_duplicate_specs_are_refused_before_any_work(h: Harness) -> None:
    with pytest.raises(DuplicateIdentity):
        h.runtime.validate_roster_uniqueness([spec("a"), spec("a")])
    with pytest.raises(DuplicateIdentity):
        h.runtime.restore_flow([spec("a"), spec("b"), spec("a")])
    assert not h.runtime.contains("b")
    h.runtime.validate_roster_uniqueness([spec("a"), spec("b")])
    h.runtime.create_identity(spec("c"))
    with pytest.raises(DuplicateIdentity):
        h.runtime.create_identity(spec("c"))


def test_topology_is_stored_as_managed_edges_and_reconciled(h: Harness) -> None:
    from identities.roster import FullMeshTopology, StaticTopology
    from identities.types import ManagedPeerEdge

    calls = []

    class Recording(FullMeshTopology):
        def compute_edges(self, identities, roster):  # type: ignore[no-untyped-def]
            calls.append(list(identities))
            return super().compute_edges(identities, roster)

    result = h.runtime.restore_flow([spec("b"), spec("a")], topology=Recording())
    assert result.managed_edges == [ManagedPeerEdge("a", "b")] and len(calls) == 1
    assert h.runtime.peers("a") == ["b"]
    h.runtime.create_identity(spec("c"))
    changes = h.runtime.reconcile_managed_peer_edges([ManagedPeerEdge.of("c", "b")])
    assert (changes.added, changes.removed) == ([ManagedPeerEdge("b", "c")], [ManagedPeerEdge("a", "b")])
    assert h.runtime.peers("a") == [] and h.runtime.peers("b") == ["c"]
    changes = h.runtime.reconcile_managed_peer_edges([ManagedPeerEdge("b", "c")])
    assert changes.kept == [ManagedPeerEdge("b", "c")] and not changes.added
    assert h.runtime.restore_flow([spec("a")], topology=StaticTopology([])).managed_edges == []
    assert h.runtime.managed_edges() == []


def test_roster_inspect_returns_every_identity_with_spec_and_status(h: Harness) -> None:
    own(h, "a")
    h.runtime.create_identity(internal("b"))
    h.runtime.retire("b")
    roster = h.runtime.roster_inspect()
    assert list(roster) == ["a", "b"]
    spec_a, status_a = roster["a"]
    assert spec_a.labels == {"team": "blue"} and status_a.lease is not None and status_a.lease.healthy
    assert roster["b"][1].state == IdentityState.RETIRING
    assert roster["b"][1].addressability == Addressability.INTERNAL_ONLY


def test_reconcile_computes_activate_retire_hot_reload_and_respawn(h: Harness) -> None:
    for name in ("same", "relabel", "readdress", "recontext", "reprofile", "gone"):
        h.runtime.create_identity(spec(name))
    desired = [
        spec("same"),
        spec("relabel", labels={"team": "red"}),
        spec("readdress", addressability=Addressability.INTERNAL_ONLY),
        spec("recontext", context={"goal": "new"}),
        spec("reprofile", profile="planner"),
        spec("fresh"),
    ]
    actions = {(a.kind.value, a.identity) for a in h.runtime.compute_reconcile_actions(desired)}
    assert actions == {
        ("activate", "fresh"), ("retire", "gone"), ("hot_reload", "relabel"), ("hot_reload", "readdress"),
        ("hot_reload", "recontext"), ("respawn", "reprofile"),
    }
    h.runtime.apply_reconcile_actions(h.runtime.compute_reconcile_actions(desired), actor="admin")
    assert h.runtime.compute_reconcile_actions(desired) == []
    assert h.runtime.status("gone").state == IdentityState.RETIRING
    assert h.runtime.spec("reprofile").profile == "planner"


# 27: events ---------------------------------------------------------------------------------------
def test_events_come_in_the_order_of_the_changes(h: Harness) -> None:
    agent, _ = own(h)
    after = h.runtime.subscribe("alpha")[-1].id or 0
    h.runtime.set_state("alpha", IdentityState.RETIRING)
    h.runtime.mark_lease_lost("alpha")
    grant = h.runtime.acquire_lease("alpha", agent)
    h.runtime.checkpoint("alpha", b"one", token=grant.fencing_token, agent_id=agent)
    events = h.runtime.subscribe("alpha", after=after)
    assert [e.kind for e in events] == [
        "identity.state_changed", "identity.lease_lost", "identity.lease_acquired", "identity.checkpoint_completed",
    ]
    assert events[0].payload["new_state"] == "retiring"
    assert events[3].payload["version"] == 1
    assert events[3].payload["status"]["checkpoint_version"] == 1  # a self-contained snapshot
    with pytest.raises(UnknownIdentity):
        h.runtime.subscribe("ghost")


def test_recovery_actions_are_audited_including_refusals(h: Harness) -> None:
    own(h)
    h.runtime.respawn("alpha", actor="alice", reason="stuck")
    h.runtime.create_identity(spec("empty"))
    h.runtime.delete_identity("empty", actor="bob")
    with pytest.raises(InvalidState):
        h.runtime.respawn("empty", actor="bob", reason="try")
    entries = [e for e in h.runtime.registry().list_audit().items if e.action != "created"]
    assert [(e.actor, e.action, e.identity, e.ok) for e in entries] == [
        ("bob", "respawned", "empty", False), ("bob", "deleted", "empty", True), ("alice", "respawned", "alpha", True),
    ]
    assert entries[2].reason == "stuck" and entries[0].result["error"] == "invalid_state"


def test_renew_by_an_agent_past_its_liveness_ttl_frees_its_leases(h: Harness) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        agent, grant = own(h, "alpha")
        h.runtime.create_identity(spec("beta"))
        h.runtime.acquire_lease("beta", agent, ttl_s=600)
    with time_machine.travel(start + timedelta(seconds=31), tick=False):  # no sweep ran
        with pytest.raises(LeaseLost) as excinfo:
            h.runtime.renew_lease("alpha", agent, grant.fencing_token, ttl_s=600)
        assert "no longer online" in excinfo.value.detail
        assert h.runtime.lease("beta").lost_reason == "agent_expired"
