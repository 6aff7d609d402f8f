"""The lineage of one output for its page: parents, children and a small server-rendered graph.

The graph is three columns (parents, the output, its children) laid out here so the template only
draws: each node is a link, each edge a curve from a parent's right side to a child's left side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stores.contracts import OutputStore
from stores.output_types import OutputRecord

NODE_W, NODE_H, ROW_GAP, COL_GAP, PAD = 200, 42, 10, 70, 6
SHOWN_PER_SIDE = 8
CHILDREN_LISTED = 50


@dataclass(frozen=True)
class Node:
    ref: str
    title: str
    subtitle: str
    x: int
    y: int
    current: bool = False
    link: bool = True


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    nodes: Sequence[Node]
    edges: Sequence[str]  # SVG path data


def _column(records: Sequence[OutputRecord], total: int, col: int, height: int, current: bool = False) -> list[Node]:
    shown = list(records[:SHOWN_PER_SIDE])
    count = len(shown) + (1 if total > len(shown) else 0)
    top = (height - (count * NODE_H + (count - 1) * ROW_GAP)) // 2 if count else 0
    x = PAD + col * (NODE_W + COL_GAP)
    nodes = [
        Node(r.ref, r.ref, f"{r.kind.value} · {r.producer_agent}"[:30], x, top + i * (NODE_H + ROW_GAP), current)
        for i, r in enumerate(shown)
    ]
    if total > len(shown):
        y = top + len(shown) * (NODE_H + ROW_GAP)
        nodes.append(Node("", f"+{total - len(shown)} more", "see the list below", x, y, link=False))
    return nodes


def _edge(a: Node, b: Node) -> str:
    x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H // 2, b.x, b.y + NODE_H // 2
    mid = (x1 + x2) // 2
    return f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"


def graph(record: OutputRecord, parents: Sequence[OutputRecord], children: Sequence[OutputRecord],
          children_total: int) -> Graph:
    rows = max(1, min(len(parents), SHOWN_PER_SIDE + 1), min(children_total, SHOWN_PER_SIDE + 1))
    height = 2 * PAD + rows * NODE_H + (rows - 1) * ROW_GAP
    left = _column(parents, len(parents), 0, height)
    (me,) = _column([record], 1, 1, height, current=True)
    right = _column(children, children_total, 2, height)
    edges = [_edge(p, me) for p in left] + [_edge(me, c) for c in right]
    return Graph(width=2 * PAD + 3 * NODE_W + 2 * COL_GAP, height=height, nodes=[*left, me, *right], edges=edges)


def lineage(store: OutputStore, record: OutputRecord) -> dict[str, Any]:
    """Template context for an output's lineage: parents in their stored order, the first children."""
    found = store.get_many(record.parent_refs)
    parents = [found[ref] for ref in record.parent_refs if ref in found]
    children = store.children_of(record.ref, limit=CHILDREN_LISTED)
    return {
        "parents": parents,
        "children": children.items,
        "children_total": children.total,
        "graph": graph(record, parents, children.items, children.total),
        "node_w": NODE_W,
        "node_h": NODE_H,
    }
