"""The overview counts, the roster (filters, search, pagination, fixed query count) and the audit log."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from stores.errors import StaleFencingToken
from swarmsite.composition import identity_runtime, lifecycle_store
from tests.swarmsite.dashboard.helpers import LOG_READ, checkpoint, create, hold

pytestmark = pytest.mark.django_db


def rows(body: str) -> int:
    return body.count('class="roster-row ')


def test_overview_counts_identities_leases_inbox_and_rejections(viewer_client: Client) -> None:
    create("alpha")
    create("beta")
    create("gamma")
    identity_runtime().retire("gamma", actor="test")
    grant = hold("alpha")
    identity_runtime().send("alpha", {"type": "text", "text": "hi"})
    identity_runtime().respawn("alpha", actor="test")  # fences the grant
    with pytest.raises(StaleFencingToken):
        checkpoint("alpha", grant, {"late": True})
    hold("beta")
    body = viewer_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert '<span class="n">2</span><span class="l">identities active' in body
    assert '<span class="n">1</span><span class="l">retiring' in body
    assert '<span class="n">1</span><span class="l">leases held' in body
    assert '<span class="n">1</span><span class="l">inbox work pending' in body
    assert '<span class="n">1</span><span class="l">rejected stale writes' in body


def test_overview_counts_an_expired_lease_as_lost_before_any_sweep(viewer_client: Client) -> None:
    create("alpha")
    hold("alpha", ttl_s=5)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=10), tick=False):
        lifecycle_store().register(uuid.uuid4())  # an agent online "now", so only the lease ran out
        body = viewer_client.get("/", headers={"HX-Request": "true"}).content.decode()
    assert '<span class="n">0</span><span class="l">leases held' in body
    assert '<span class="n">1</span><span class="l">leases lost' in body


def test_roster_has_an_empty_state(viewer_client: Client) -> None:
    body = viewer_client.get("/roster/").content.decode()
    assert "No identity is registered yet" in body


def test_roster_lists_state_lease_token_generation_and_checkpoint(viewer_client: Client) -> None:
    create("planner-1", team="blue")
    grant = hold("planner-1")
    checkpoint("planner-1", grant, {"step": 1})
    body = viewer_client.get("/roster/").content.decode()
    assert 'data-identity="planner-1"' in body
    assert f"#{grant.fencing_token}" in body
    assert str(grant.holder)[:8] in body
    assert "data-until=" in body  # the TTL countdown
    assert "v1" in body and "team=blue" in body
    assert "healthy" in body


def test_roster_filters_by_state_lease_name_and_label(viewer_client: Client) -> None:
    create("planner-1", team="blue")
    create("planner-2", team="red")
    create("writer-1", team="blue")
    hold("planner-2")
    identity_runtime().retire("writer-1", actor="test")
    assert rows(viewer_client.get("/roster/?q=planner").content.decode()) == 2
    assert rows(viewer_client.get("/roster/?q=team=blue").content.decode()) == 2
    held = viewer_client.get("/roster/?lease=held").content.decode()
    assert rows(held) == 1 and 'data-identity="planner-2"' in held
    assert rows(viewer_client.get("/roster/?lease=none").content.decode()) == 2
    retiring = viewer_client.get("/roster/?state=retiring").content.decode()
    assert rows(retiring) == 1 and "retiring: no new deliveries" in retiring
    assert "No identity matches this filter" in viewer_client.get("/roster/?q=nobody").content.decode()


def test_roster_ignores_bad_filter_values_instead_of_failing(viewer_client: Client) -> None:
    create("alpha")
    for query in ("state=bogus", "lease=%00", "q=%00x", "q=a.b%3D1", "q=" + "x" * 5000, "page=-3"):
        response = viewer_client.get(f"/roster/?{query}")
        assert response.status_code == 200, query


def test_roster_says_why_a_lease_was_lost(viewer_client: Client) -> None:
    create("alpha")
    hold("alpha", ttl_s=5)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=10), tick=False):
        body = viewer_client.get("/roster/?lease=lost").content.decode()
    assert "lease lost: its holder stopped renewing it" in body


def test_roster_htmx_refresh_renders_only_the_table(viewer_client: Client) -> None:
    create("alpha")
    body = viewer_client.get("/roster/", headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<section id="roster-table"') and "<html" not in body


def test_roster_paginates(viewer_client: Client) -> None:
    for i in range(55):
        create(f"id-{i:02d}")
    assert rows(viewer_client.get("/roster/").content.decode()) == 50
    second = viewer_client.get("/roster/?page=2").content.decode()
    assert rows(second) == 5 and "Page 2 of 2" in second


def populate(start: int, stop: int) -> None:
    """Identities, every tenth with a live lease and a checkpoint, so each join has rows to read."""
    for i in range(start, stop):
        create(f"id-{i:04d}", team="a" if i % 2 else "b")
        if i % 10 == 0:
            # Leases outlive the setup, however slow the machine.
            checkpoint(f"id-{i:04d}", hold(f"id-{i:04d}", ttl_s=3600), {"i": i})


# session, user, groups (the role check), names count, names page, specs, continuity (record with
# its snapshot check in one query), leases, the lease holders' agent names, last event id, groups again
# (the template's role context)
ROSTER_QUERIES = 11 + LOG_READ


def test_roster_with_1000_identities_renders_in_a_fixed_number_of_queries(
    viewer_client: Client, django_assert_num_queries: object
) -> None:
    populate(0, 20)
    with django_assert_num_queries(ROSTER_QUERIES):  # type: ignore[operator]
        viewer_client.get("/roster/")
    populate(20, 1000)
    with django_assert_num_queries(ROSTER_QUERIES):  # type: ignore[operator]
        response = viewer_client.get("/roster/?page=2&lease=held")
    assert 'data-identity="id-0500"' in response.content.decode()
    with django_assert_num_queries(ROSTER_QUERIES):  # type: ignore[operator]
        response = viewer_client.get("/roster/?page=7")
    assert rows(response.content.decode()) == 50


def test_audit_log_lists_who_did_what_with_the_result(operator_client: Client, viewer_client: Client) -> None:
    create("alpha")
    operator_client.post("/identities/alpha/actions/retire/", {"reason": "winding down"})
    body = viewer_client.get("/audit/").content.decode()
    assert 'data-action="retired"' in body and "operator-user" in body and "winding down" in body
    assert 'data-action="created"' in body


def test_audit_log_shows_rejected_stale_writes(viewer_client: Client) -> None:
    create("alpha")
    grant = hold("alpha")
    identity_runtime().respawn("alpha", actor="test")
    with pytest.raises(StaleFencingToken):
        checkpoint("alpha", grant, {})
    body = viewer_client.get("/audit/?show=rejections&identity=alpha").content.decode()
    assert body.count('class="rejection-row"') == 1
    assert f"#{grant.fencing_token}" in body and "checkpoint" in body
    assert "No stale write was rejected for beta" in viewer_client.get(
        "/audit/?show=rejections&identity=beta"
    ).content.decode()
