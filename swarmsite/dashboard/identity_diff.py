"""A small structural diff between two JSON checkpoint snapshots: added, removed and changed values
with their paths, so an operator sees how an agent's state drifted between two versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_CHANGES = 500
VALUE_PREVIEW = 200


@dataclass(frozen=True)
class Change:
    op: str  # "added", "removed" or "changed"
    path: str  # "$.plan.steps[2].done"
    old: str | None = None  # JSON text, cut to VALUE_PREVIEW characters
    new: str | None = None


@dataclass(frozen=True)
class DiffResult:
    changes: list[Change]
    truncated: bool = False
    # Set when either side is not JSON: the diff is then not computed.
    not_json: str | None = None


def parse_json(data: bytes | None) -> tuple[bool, Any]:
    if data is None:
        return False, None
    try:
        return True, json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def diff_snapshots(old: bytes | None, new: bytes | None) -> DiffResult:
    ok_old, a = parse_json(old)
    ok_new, b = parse_json(new)
    if not (ok_old and ok_new):
        which = "neither snapshot is JSON" if not (ok_old or ok_new) else "one of the snapshots is not JSON"
        return DiffResult([], not_json=which)
    changes: list[Change] = []
    _walk(a, b, "$", changes)
    return DiffResult(changes[:MAX_CHANGES], truncated=len(changes) > MAX_CHANGES)


def _walk(a: Any, b: Any, path: str, out: list[Change]) -> None:
    if len(out) > MAX_CHANGES:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            sub = f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"
            if key not in b:
                out.append(Change("removed", sub, old=_show(a[key])))
            elif key not in a:
                out.append(Change("added", sub, new=_show(b[key])))
            else:
                _walk(a[key], b[key], sub, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                out.append(Change("removed", sub, old=_show(a[i])))
            elif i >= len(a):
                out.append(Change("added", sub, new=_show(b[i])))
            else:
                _walk(a[i], b[i], sub, out)
        return
    # bool is an int in Python: compare types too, so true -> 1 shows as a change.
    if type(a) is not type(b) or a != b:
        out.append(Change("changed", path, old=_show(a), new=_show(b)))


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_PREVIEW else text[: VALUE_PREVIEW - 1] + "…"
