"""manage.py restore_roster: JSON and YAML rosters, each outcome printed, bad files refused."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from identities.types import ContinuityRecord
from swarmsite.composition import identity_runtime

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("restore_roster", *args, stdout=out)
    return out.getvalue()


def test_yaml_roster_creates_every_identity_with_full_mesh(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "identities:\n"
        "  - {identity: planner, profile: planner, labels: {team: core}}\n"
        "  - {identity: coder, profile: coder, addressability: internal_only}\n"
        "topology: full_mesh\n"
    )
    out = run(str(roster))
    assert "coder: created generation 0" in out and "planner: created generation 0" in out
    assert "2 identities (0 broken); managed peer edges: coder–planner" in out
    assert identity_runtime().peers("planner") == ["coder"]


def test_json_roster_reports_resumed_and_broken(tmp_path: Path) -> None:
    store = identity_runtime().continuity_store()
    session = uuid.uuid4()
    store.upsert_continuity_record(ContinuityRecord("kept", "rt:kept:0", session, 0, 0), 0)
    store.save_session_snapshot("kept", session, 0, 1, 0, b"12345")
    store.upsert_continuity_record(ContinuityRecord("lost", "rt:lost:0", uuid.uuid4(), 0, 2), 0)
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps([{"identity": "kept", "profile": "p"}, {"identity": "lost", "profile": "p"}]))
    out = run(str(roster))
    assert "kept: resumed generation 0 at checkpoint 1 (5 bytes)" in out
    assert "lost: broken (snapshot_missing)" in out
    with pytest.raises(CommandError, match="1 broken"):
        run(str(roster), "--fail-on-broken")


BAD_ROSTERS = [
    "{not json",
    json.dumps({"identities": [{"identity": "a b", "profile": "p"}]}),
    json.dumps([{"identity": "a", "profile": "p"}, {"identity": "a", "profile": "p"}]),
]


@pytest.mark.parametrize("content", BAD_ROSTERS)
def test_bad_rosters_are_refused_with_a_message(tmp_path: Path, content: str) -> None:
    roster = tmp_path / "roster.json"
    roster.write_text(content)
    with pytest.raises(CommandError):
        run(str(roster))
    with pytest.raises(CommandError, match="cannot read"):
        run(str(tmp_path / "missing.json"))


def test_reconcile_roster_is_a_dry_run_until_applied(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    first.write_text(json.dumps([{"identity": "a", "profile": "p"}, {"identity": "b", "profile": "p"}]))
    run(str(first))
    desired = tmp_path / "desired.yaml"
    desired.write_text("- {identity: a, profile: q}\n- {identity: c, profile: p}\n")
    out = io.StringIO()
    call_command("reconcile_roster", str(desired), stdout=out)
    assert out.getvalue().splitlines() == [
        "activate: c (profile p)", "retire: b", "respawn: a (profile q)", "3 actions to apply (dry run; pass --apply)",
    ]
    assert not identity_runtime().contains("c")
    call_command("reconcile_roster", str(desired), "--apply", stdout=io.StringIO())
    assert identity_runtime().contains("c") and identity_runtime().spec("a").profile == "q"
    out = io.StringIO()
    call_command("reconcile_roster", str(desired), stdout=out)
    assert out.getvalue().strip() == "0 actions to apply (dry run; pass --apply)"
