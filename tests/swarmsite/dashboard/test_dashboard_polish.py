"""Charts over time, the agent page, global search, the task page, audit filters and CSV, the feed
filter, and the error pages, through the real URL conf and database."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.test import Client

from identities.types import AuditRecord, StaleWriteRecord
from stores.output_types import Final, InlineContent, Progress
from swarmsite.composition import identity_runtime, lifecycle_store, output_store
from tests.swarmsite.dashboard.helpers import create, hold, online_agent

pytestmark = pytest.mark.django_db

DONE = Final(content=InlineContent({"verdict": "pass"}), ok=True)


def chart(client: Client, scope: str = "all", scope_id: str = "", range_name: str = "hour") -> dict[str, Any]:
    response = client.get("/charts/", {"scope": scope, "id": scope_id, "range": range_name})
    assert response.status_code == 200
    return {c["name"]: c["data"] for c in response.json()["charts"]}


def test_chart_counts_outputs_as_they_are_appended(viewer_client: Client) -> None:
    assert sum(chart(viewer_client)["outputs"]) == 0
    for n in range(3):
        output_store().append(f"task-{n}", 0, "planner", DONE)
    data = chart(viewer_client)
    assert sum(data["outputs"]) == 3 and data["outputs"][-1] == 3
    assert len(data["outputs"]) == 60
    assert len(chart(viewer_client, range_name="day")["outputs"]) == 24


def test_identity_and_agent_charts_count_only_their_own_events(viewer_client: Client) -> None:
    create("alpha")
    create("beta")
    agent = online_agent("worker-1")
    hold("alpha", agent, ttl_s=30)
    identity_runtime().mark_lease_lost("alpha")
    assert sum(chart(viewer_client, "identity", "alpha")["lease_losses"]) == 1
    assert sum(chart(viewer_client, "identity", "beta")["lease_losses"]) == 0
    assert sum(chart(viewer_client, "agent", str(agent))["lease_losses"]) == 1


def test_chart_refuses_an_unknown_scope_or_range(viewer_client: Client) -> None:
    for params in ({"scope": "planet"}, {"range": "year"}, {"scope": "identity", "id": "a\x00b"}):
        response = viewer_client.get("/charts/", params)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_input"


def test_pages_with_charts_place_the_chart_panel(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("worker-1")
    for path in ("/", "/identities/alpha/", f"/agents/{agent}/"):
        page = viewer_client.get(path).content.decode()
        assert 'class="card charts"' in page and "data-chart-url" in page, path


def test_agent_page_shows_state_why_leases_and_outputs(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("worker-1")
    hold("alpha", agent)
    output_store().append("task-7", 0, str(agent), DONE)
    page = viewer_client.get(f"/agents/{agent}/").content.decode()
    assert "worker-1" in page and str(agent) in page
    assert "It heartbeats" in page
    assert 'href="/identities/alpha/"' in page
    assert 'href="/tasks/task-7/"' in page


def test_agent_page_of_an_expired_agent_says_why(viewer_client: Client, settings: Any) -> None:
    agent = online_agent("quiet")
    lifecycle_store().deregister(agent)
    assert "It deregistered" in viewer_client.get(f"/agents/{agent}/").content.decode()


# A well-formed id nobody registered among them (fixed, so every test process collects the same tests).
@pytest.mark.parametrize("agent_id", ["not-a-uuid", "5acfb862-686e-4b84-8380-a3d7e7c26065", "x" * 300])
def test_agent_page_of_an_unknown_agent_is_a_styled_404(viewer_client: Client, agent_id: str) -> None:
    response = viewer_client.get(f"/agents/{agent_id}/")
    assert response.status_code == 404
    assert b'id="error-404"' in response.content and b"<nav>" in response.content


def test_unknown_page_is_a_styled_404_with_the_nav_and_search(viewer_client: Client) -> None:
    response = viewer_client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert 'id="error-404"' in body and "<nav>" in body and 'action="/search/"' in body
    assert "Nothing lives at" in body


def test_roster_links_the_lease_holder_by_name(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("worker-9")
    hold("alpha", agent)
    page = viewer_client.get("/roster/").content.decode()
    assert f'href="/agents/{agent}/"' in page and ">worker-9</a>" in page


def test_search_finds_each_kind_of_object(viewer_client: Client) -> None:
    create("planner-1")
    agent = online_agent("scout-3")
    record = output_store().append("task-find-me", 0, str(agent), DONE)
    cases = {
        "planner": "/identities/planner-1/",
        "scout": f"/agents/{agent}/",
        str(agent): f"/agents/{agent}/",
        record.ref: f"/outputs/{record.ref}/",
        "task-find": "/tasks/task-find-me/",
    }
    for text, url in cases.items():
        page = viewer_client.get("/search/", {"q": text, "list": "1"}).content.decode()
        assert f'href="{url}"' in page, text
    # One exact match opens its page at once.
    assert viewer_client.get("/search/", {"q": "planner-1"})["Location"] == "/identities/planner-1/"


def test_search_finds_sessions_and_batches(viewer_client: Client) -> None:
    from swarmsite.composition import runtime_persistence

    create("alpha")
    grant = hold("alpha")
    delivery = identity_runtime().send("alpha", {"type": "text", "text": "hi"})
    session = str(delivery.session_id)
    assert grant.fencing_token >= 1 and delivery.batch_id
    page = viewer_client.get("/search/", {"q": session, "list": "1"}).content.decode()
    assert f'href="/sessions/{session}/"' in page
    page = viewer_client.get("/search/", {"q": delivery.batch_id, "list": "1"}).content.decode()
    assert f'/sessions/{session}/#batch-{delivery.batch_id}' in page
    assert runtime_persistence().get_summary(session).pending_count == 1


def test_search_finds_agents_and_sessions_by_the_id_start_the_pages_show(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("scout-4")
    other = online_agent("scout-5")
    hold("alpha", agent)
    session = str(identity_runtime().send("alpha", {"type": "text", "text": "hi"}).session_id)
    for start in (str(agent)[:8], str(agent)[:13], str(agent)[:8].upper()):
        page = viewer_client.get("/search/", {"q": start}).content.decode()
        assert f'href="/agents/{agent}/"' in page, start
        assert f'href="/agents/{other}/"' not in page or str(other).startswith(start.lower())
    page = viewer_client.get("/search/", {"q": session[:13]}).content.decode()
    assert f'href="/sessions/{session}/"' in page
    # Too short or not hex: no id search (an identity or agent name may still start so).
    assert "Nothing matches" in viewer_client.get("/search/", {"q": str(agent)[:3] + "z"}).content.decode()


def test_search_with_nothing_found_says_so(viewer_client: Client) -> None:
    page = viewer_client.get("/search/", {"q": "nothing-like-this"}).content.decode()
    assert "Nothing matches" in page


def test_task_page_shows_each_attempt_as_a_lineage_tree(viewer_client: Client) -> None:
    store = output_store()
    root = store.append("task-t", 0, "planner", Progress(stage="plan", note="start"))
    child = store.append("task-t", 0, "worker", Progress(stage="work", note="step"), parent_refs=[root.ref])
    store.append("task-t", 0, "worker", DONE, parent_refs=[child.ref])
    store.append("task-t", 1, "worker", DONE)
    page = viewer_client.get("/tasks/task-t/").content.decode()
    assert 'id="attempt-0"' in page and 'id="attempt-1"' in page
    # The child sits inside its parent's list item.
    start = page.index(f"/outputs/{root.ref}/")
    assert start < page.index(f"/outputs/{child.ref}/") < page.index("</li>", page.index(f"/outputs/{child.ref}/"))
    assert viewer_client.get("/tasks/no-such-task/").status_code == 404


def audit(actor: str, action: str, identity: str) -> None:
    from django.utils import timezone

    identity_runtime().registry().record_audit(
        AuditRecord(actor=actor, action=action, identity=identity, reason="", ok=True, result={},
                    created_at=timezone.now())
    )


def test_audit_filters_by_actor_and_action_and_exports_csv(viewer_client: Client) -> None:
    create("alpha")
    audit("ada", "respawned", "alpha")
    audit("bob", "retired", "alpha")
    page = viewer_client.get("/audit/", {"actor": "ada"}).content.decode()
    assert 'data-action="respawned"' in page and 'data-action="retired"' not in page
    page = viewer_client.get("/audit/", {"act": "retired"}).content.decode()
    assert 'data-action="retired"' in page and 'data-action="respawned"' not in page
    response = viewer_client.get("/audit/export.csv", {"actor": "bob"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0][:4] == ["created_at", "actor", "action", "subject"]
    assert [r[1:4] for r in rows[1:]] == [["bob", "retired", "alpha"]]


def test_audit_time_range_leaves_older_entries_out(viewer_client: Client) -> None:
    audit("ada", "respawned", "alpha")
    assert 'data-action="respawned"' in viewer_client.get("/audit/", {"range": "1h"}).content.decode()
    page = viewer_client.get("/audit/", {"until": "2000-01-01T00:00"}).content.decode()
    assert 'data-action="respawned"' not in page and "No audited action matches" in page


def test_audit_time_range_is_read_in_the_browsers_zone(viewer_client: Client) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    audit("ada", "respawned", "alpha")
    berlin = at.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)  # what the page shows there
    since = (berlin - dt.timedelta(minutes=1)).isoformat()
    found = viewer_client.get("/audit/", {"since": since, "tz": "Europe/Berlin"}).content.decode()
    assert 'data-action="respawned"' in found
    assert 'name="tz" value="Europe/Berlin"' in found and ">Europe/Berlin</span>" in found
    later = (berlin + dt.timedelta(minutes=1)).isoformat()
    after = viewer_client.get("/audit/", {"since": later, "tz": "Europe/Berlin"}).content.decode()
    assert 'data-action="respawned"' not in after
    # Without a zone (no script) or with one that does not exist, the fields are UTC, and say so.
    page = viewer_client.get("/audit/", {"since": since, "tz": "Mars/Olympus"}).content.decode()
    assert ">UTC</span>" in page and 'name="tz" value=""' in page
    csv_rows = b"".join(viewer_client.get("/audit/export.csv", {"since": since, "tz": "Europe/Berlin"})
                        .streaming_content).decode()  # type: ignore[attr-defined]
    assert "respawned" in csv_rows


def test_rejected_writes_follow_the_subject_and_time_filters_and_link_their_agent(viewer_client: Client) -> None:
    from django.utils import timezone

    create("alpha")
    create("beta")
    agent = online_agent("zombie-7")
    registry = identity_runtime().registry()
    registry.record_rejection(StaleWriteRecord("alpha", agent, 1, 2, "checkpoint", timezone.now()))
    registry.record_rejection(StaleWriteRecord("beta", None, 1, 2, "output_append",
                                               timezone.now() - dt.timedelta(days=2)))
    page = viewer_client.get("/audit/", {"show": "rejections"}).content.decode()
    assert page.count('class="rejection-row"') == 2
    assert f'href="/agents/{agent}/"' in page and ">zombie-7</a>" in page  # the agent by name, linked
    recent = viewer_client.get("/audit/", {"show": "rejections", "range": "24h"}).content.decode()
    assert recent.count('class="rejection-row"') == 1 and "checkpoint" in recent
    old = viewer_client.get("/audit/", {"show": "rejections", "until": (timezone.now() - dt.timedelta(days=1))
                                        .strftime("%Y-%m-%dT%H:%M")}).content.decode()
    assert old.count('class="rejection-row"') == 1 and "output_append" in old
    none = viewer_client.get("/audit/", {"show": "rejections", "identity": "beta", "range": "1h"}).content.decode()
    assert 'class="rejection-row"' not in none and "No rejected stale write matches these filters" in none
    # Actor and action do not describe a rejected write: they leave the list alone, and the page says so.
    by_actor = viewer_client.get("/audit/", {"show": "rejections", "actor": "ada"}).content.decode()
    assert by_actor.count('class="rejection-row"') == 2 and "filter audited actions only" in by_actor


def test_feed_filter_keeps_only_the_kind_asked_for(viewer_client: Client) -> None:
    create("alpha")
    online_agent("worker-1")
    page = viewer_client.get("/", {"kind": "agent."}).content.decode()
    feed = page[page.index('id="event-feed"'):]
    assert 'data-kind="agent.online"' in feed and 'data-kind="identity.' not in feed


def test_feed_links_every_subject(viewer_client: Client) -> None:
    create("alpha")
    agent = online_agent("worker-1")
    record = output_store().append("task-l", 0, "planner", DONE)
    feed = viewer_client.get("/").content.decode()
    assert 'href="/identities/alpha/"' in feed and f'href="/agents/{agent}/"' in feed
    assert f'href="/outputs/{record.ref}/"' in feed and 'href="/tasks/task-l/"' in feed


def test_timestamps_use_one_format(viewer_client: Client) -> None:
    online_agent("worker-1")
    feed = viewer_client.get("/").content.decode()
    assert "<time datetime=" in feed and "data-local" in feed and " UTC</time>" in feed


def test_sessions_show_and_link_their_identity_and_generation(viewer_client: Client) -> None:
    create("alpha")
    hold("alpha")
    session = str(identity_runtime().send("alpha", {"type": "text", "text": "hi"}).session_id)
    listing = viewer_client.get("/sessions/").content.decode()
    assert 'href="/identities/alpha/"' in listing and "gen " in listing
    detail = viewer_client.get(f"/sessions/{session}/").content.decode()
    assert 'id="session-owner"' in detail and 'href="/identities/alpha/"' in detail


def test_htmx_actions_answer_with_a_toast(operator_client: Client) -> None:
    create("alpha")
    hold("alpha")
    response = operator_client.post("/identities/alpha/send/", {"text": "hello", "key": "k1"},
                                    headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "swarm:toast" in response["HX-Trigger"] and "Message sent." in response["HX-Trigger"]


def test_admin_plurals_are_english() -> None:
    plurals = {str(m._meta.verbose_name_plural) for m in apps.get_models()}
    assert "queued work batches" in plurals and "attachment manifest entries" in plurals
    assert not [p for p in plurals if p.endswith(("ys", "chs", "shs", "xs"))]


def test_favicon_is_served(viewer_client: Client) -> None:
    assert viewer_client.get("/favicon.ico")["Location"].endswith("favicon.svg")
