"""One task: every output of it as a lineage tree, attempt by attempt (a node's children are the outputs
that name it as a parent; an output whose parents are outside the attempt is a root of that attempt)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from identities.lookups import lookups
from stores.output_types import OutputRecord
from swarmsite.composition import event_log, output_store
from swarmsite.dashboard.common import role_required
from swarmsite.roles import VIEWER

TASK_OUTPUTS = 1000


@dataclass
class TreeNode:
    record: OutputRecord
    children: list[TreeNode] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    number: int
    count: int
    roots: Sequence[TreeNode]
    final: OutputRecord | None


def lineage_trees(records: Sequence[OutputRecord]) -> list[Attempt]:
    """Attempts oldest first; in each, outputs in insertion order under their first parent in the attempt."""
    by_attempt: dict[int, list[OutputRecord]] = defaultdict(list)
    for r in sorted(records, key=lambda r: r.seq):
        by_attempt[r.attempt].append(r)
    attempts = []
    for number, items in sorted(by_attempt.items()):
        nodes = {r.ref: TreeNode(r) for r in items}
        roots: list[TreeNode] = []
        for r in items:
            parent = next((p for p in r.parent_refs if p in nodes and p != r.ref), None)
            (nodes[parent].children if parent else roots).append(nodes[r.ref])
        final = next((r for r in reversed(items) if r.kind.value == "final"), None)
        attempts.append(Attempt(number, len(items), roots, final))
    return attempts


@role_required(VIEWER)
def task_detail(request: HttpRequest, task_id: str) -> HttpResponse:
    if len(task_id) > 200 or "\x00" in task_id:
        raise Http404("no such task")
    records = output_store().list_outputs(task_id=task_id, limit=TASK_OUTPUTS).items
    if not records:
        raise Http404(f"no output names task {task_id[:64]!r}")
    context = {
        "task_id": task_id, "attempts": lineage_trees(records), "total": len(records),
        "truncated": len(records) >= TASK_OUTPUTS,
        "agent_names": lookups().agent_names({r.producer_agent for r in records}),
        "last_event_id": event_log().latest_id(),
    }
    return render(request, "task/detail.html", context)
