"""LeaseProvider conformance (semantics 3.8 "Contracts", with SPEC 4's real TTL), run against every
backend. Tokens are global and strictly increasing, so tests compare tokens, never absolute values."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from identities.contracts import LeaseProvider
from identities.types import LeaseState, LostReason
from stores.errors import StaleFencingToken
from stores.types import Fence

TTL_MS = 30_000


def test_acquire_grants_distinct_positive_tokens(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    first = leases.acquire("a", agent, TTL_MS)
    second = leases.acquire("b", agent, TTL_MS)
    assert first.acquired and second.acquired
    assert first.grant and second.grant
    assert 0 < first.grant.fencing_token < second.grant.fencing_token
    assert first.grant.ttl_ms == TTL_MS and first.grant.holder == agent


def test_acquire_while_another_holder_is_live_is_already_held(leases: LeaseProvider) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    grant = leases.acquire("x", a, TTL_MS).grant
    result = leases.acquire("x", b, TTL_MS)
    assert not result.acquired
    assert result.result == "already_held"
    assert result.holder == a and grant is not None and result.expires_at == grant.expires_at


def test_reacquire_by_the_same_holder_mints_a_higher_token(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    first = leases.acquire("x", agent, TTL_MS).grant
    second = leases.acquire("x", agent, TTL_MS).grant
    assert first and second and second.fencing_token > first.fencing_token
    assert not leases.renew("x", agent, first.fencing_token, TTL_MS).renewed


def test_renew_keeps_the_token_and_extends_expiry(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        grant = leases.acquire("x", agent, TTL_MS).grant
    assert grant is not None
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        renewed = leases.renew("x", agent, grant.fencing_token, TTL_MS)
    assert renewed.renewed and renewed.grant is not None
    assert renewed.grant.fencing_token == grant.fencing_token
    assert renewed.grant.expires_at == start + timedelta(seconds=50)


def test_release_then_reacquire_gives_a_higher_token_and_renew_after_release_is_lost(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    grant = leases.acquire("x", agent, TTL_MS).grant
    assert grant is not None
    assert leases.release("x", agent, grant.fencing_token)
    assert leases.get("x").state == LeaseState.RELEASED
    assert leases.get("x").last_holder == agent
    assert not leases.renew("x", agent, grant.fencing_token, TTL_MS).renewed
    again = leases.acquire("x", uuid.uuid4(), TTL_MS).grant
    assert again is not None and again.fencing_token > grant.fencing_token


def test_release_with_a_wrong_token_or_holder_is_a_noop(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    grant = leases.acquire("x", agent, TTL_MS).grant
    assert grant is not None
    assert not leases.release("x", agent, grant.fencing_token + 1000)
    assert not leases.release("x", uuid.uuid4(), grant.fencing_token)
    assert not leases.release("never", agent, 1)
    assert leases.get("x").state == LeaseState.HELD


def test_lease_past_its_ttl_is_lost_and_another_holder_may_take_it(leases: LeaseProvider) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        grant = leases.acquire("x", a, TTL_MS).grant
    assert grant is not None
    with time_machine.travel(start + timedelta(milliseconds=TTL_MS + 1), tick=False):
        lease = leases.get("x")
        assert lease.state == LeaseState.LOST and lease.lost_reason == LostReason.EXPIRED
        assert not leases.renew("x", a, grant.fencing_token, TTL_MS).renewed
        taken = leases.acquire("x", b, TTL_MS)
    assert taken.acquired and taken.grant is not None and taken.grant.fencing_token > grant.fencing_token
    assert taken.previous is not None and taken.previous.holder == a


def test_expire_due_persists_the_loss_once(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        leases.acquire("x", agent, TTL_MS)
        leases.acquire("y", agent, TTL_MS * 10)
    with time_machine.travel(start + timedelta(milliseconds=TTL_MS + 1), tick=False):
        ended = leases.expire_due()
        assert [lease.identity for lease in ended] == ["x"]
        assert leases.expire_due() == []
        assert leases.get("x").last_holder == agent


def test_fence_mints_a_higher_token_and_ends_the_live_lease(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    grant = leases.acquire("x", agent, TTL_MS).grant
    assert grant is not None
    token, ended = leases.fence("x")
    assert token > grant.fencing_token
    assert ended is not None and ended.holder == agent
    lease = leases.get("x")
    assert lease.state == LeaseState.FENCED and lease.fencing_token == token and lease.holder is None
    assert leases.acquire("x", uuid.uuid4(), TTL_MS).acquired
    assert leases.fence("never-held")[1] is None


def test_mark_lost_and_release_held_by(leases: LeaseProvider) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    leases.acquire("x", a, TTL_MS)
    leases.acquire("y", a, TTL_MS)
    leases.acquire("z", b, TTL_MS)
    assert leases.mark_lost("x", LostReason.MARKED) is not None
    assert leases.mark_lost("x", LostReason.MARKED) is None
    ended = leases.release_held_by([a], LostReason.AGENT_EXPIRED)
    assert [lease.identity for lease in ended] == ["y"]
    assert leases.get("y").lost_reason == LostReason.AGENT_EXPIRED
    assert leases.get("z").state == LeaseState.HELD


def test_check_accepts_only_the_current_token_of_a_live_lease(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = leases.acquire("x", agent, TTL_MS).grant
        new = leases.acquire("x", agent, TTL_MS).grant
        assert old is not None and new is not None
        leases.check(Fence("x", new.fencing_token, agent), operation="test")
        with pytest.raises(StaleFencingToken) as excinfo:
            leases.check(Fence("x", old.fencing_token, agent), operation="test")
        assert excinfo.value.context["current_token"] == new.fencing_token
        assert excinfo.value.context["agent_id"] == str(agent)
        with pytest.raises(StaleFencingToken):
            leases.check(Fence("unleased", 1), operation="test")
    with time_machine.travel(start + timedelta(milliseconds=TTL_MS + 1), tick=False):
        with pytest.raises(StaleFencingToken):
            leases.check(Fence("x", new.fencing_token, agent), operation="test")


def test_get_of_a_never_leased_identity_is_free(leases: LeaseProvider) -> None:
    lease = leases.get("nobody")
    assert lease.state == LeaseState.FREE and lease.fencing_token == 0 and lease.holder is None
    assert set(leases.get_many(["nobody", "else"])) == {"nobody", "else"}


def test_raise_floor_puts_every_later_token_above_it(leases: LeaseProvider) -> None:
    first = leases.acquire("x", uuid.uuid4(), TTL_MS).grant
    assert first is not None
    floor = first.fencing_token + 15
    leases.raise_floor(floor)
    after = leases.acquire("y", uuid.uuid4(), TTL_MS).grant
    assert after is not None and after.fencing_token == floor + 1


def test_renewals_are_due_for_the_log_at_most_once_per_interval(leases: LeaseProvider) -> None:
    agent = uuid.uuid4()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        grant = leases.acquire("x", agent, TTL_MS).grant
        assert grant is not None
        assert not leases.renew("x", agent, grant.fencing_token, TTL_MS).log_due
    with time_machine.travel(start + timedelta(seconds=25), tick=False):
        assert not leases.renew("x", agent, grant.fencing_token, TTL_MS).log_due
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        assert not leases.renew("x", agent, grant.fencing_token, TTL_MS).log_due
    with time_machine.travel(start + timedelta(seconds=70), tick=False):
        assert leases.renew("x", agent, grant.fencing_token, TTL_MS).log_due
