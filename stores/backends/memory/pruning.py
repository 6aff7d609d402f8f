"""Retention for the in-memory backends: the same batch and report shape as the ORM's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from stores.retention_types import TableRetention

T = TypeVar("T")


def first_prunable(rows: Iterable[T], prunable: Callable[[T], bool], limit: int) -> list[T]:
    """At most `limit` prunable rows in stored (oldest first) order."""
    out: list[T] = []
    for row in rows:
        if len(out) >= limit:
            break
        if prunable(row):
            out.append(row)
    return out


def retention(
    table: str, rows: list[T], age: Callable[[T], datetime], prunable: Callable[[T], bool]
) -> TableRetention:
    return TableRetention(
        table=table,
        rows=len(rows),
        size_bytes=None,  # process memory has no table size worth showing
        oldest=min((age(r) for r in rows), default=None),
        prunable=sum(1 for r in rows if prunable(r)),
    )
