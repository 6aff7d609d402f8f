"""The checkpoint diff: paths of added, removed and changed values between two JSON snapshots."""

from __future__ import annotations

import json

from swarmsite.dashboard.identity_diff import MAX_CHANGES, diff_snapshots


def changes(old: object, new: object) -> list[tuple[str, str]]:
    return [(c.op, c.path) for c in diff_snapshots(json.dumps(old).encode(), json.dumps(new).encode()).changes]


def test_diff_of_identical_snapshots_is_empty() -> None:
    assert changes({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}) == []


def test_diff_reports_nested_keys_and_list_items_with_paths() -> None:
    assert changes({"a": {"b": 1, "c": [1, 2]}, "gone": True}, {"a": {"b": 2, "c": [1]}, "new": 0}) == [
        ("changed", "$.a.b"), ("removed", "$.a.c[1]"), ("removed", "$.gone"), ("added", "$.new"),
    ]


def test_diff_quotes_keys_that_are_not_names() -> None:
    assert changes({}, {"a b": 1, "1": 2}) == [("added", '$["1"]'), ("added", '$["a b"]')]


def test_diff_treats_a_type_change_as_a_change() -> None:
    assert changes({"x": True}, {"x": 1}) == [("changed", "$.x")]
    assert changes([1], {"0": 1}) == [("changed", "$")]


def test_diff_of_non_json_says_so() -> None:
    assert diff_snapshots(b"\xff", b"{}").not_json == "one of the snapshots is not JSON"
    assert diff_snapshots(b"nope", b"[").not_json == "neither snapshot is JSON"


def test_diff_is_cut_at_a_maximum_and_long_values_are_shortened() -> None:
    result = diff_snapshots(b"{}", json.dumps({f"k{i}": "v" * 500 for i in range(MAX_CHANGES + 10)}).encode())
    assert result.truncated and len(result.changes) == MAX_CHANGES
    assert result.changes[0].new is not None and len(result.changes[0].new) == 200
