"""Retention for the ORM backends: delete in small batches (one short transaction each) and report a
table's rows, bytes, oldest row and what a prune would remove."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, models, transaction

from stores.retention_types import TableRetention


def delete_batch(
    prunable: models.QuerySet[Any], limit: int, *, before_delete: Callable[[list[Any]], None] | None = None
) -> int:
    """Delete at most `limit` of the prunable rows, oldest primary keys first, in one short transaction.

    A bounded SELECT of primary keys, then DELETE ... WHERE pk IN (those): never one long statement
    that holds locks while writers wait. `before_delete` runs in the same transaction (dependent rows,
    a watermark)."""
    if limit <= 0:
        return 0
    with transaction.atomic():
        ids = list(prunable.order_by("pk").values_list("pk", flat=True)[:limit])
        if not ids:
            return 0
        if before_delete is not None:
            before_delete(ids)
        # Re-filtered at delete time: a row that stopped being prunable meanwhile (an output that just
        # got a child) stays.
        _, per_model = prunable.filter(pk__in=ids).delete()
    return per_model.get(prunable.model._meta.label, 0)


def table_bytes(model: type[models.Model]) -> int | None:
    """The table's size on disk with its indexes (PostgreSQL), its pages (SQLite with dbstat), else None."""
    table = model._meta.db_table
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
            elif connection.vendor == "sqlite":
                cursor.execute(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = %s OR name IN "
                    "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = %s)",
                    [table, table],
                )
            else:
                return None
            row = cursor.fetchone()
    except DatabaseError:  # SQLite built without dbstat: the page says "unknown"
        return None
    return int(row[0]) if row and row[0] is not None else 0


def table_retention(
    table: str,
    model: type[models.Model],
    age_field: str,
    prunable: models.QuerySet[Any],
    *,
    as_datetime: Callable[[Any], datetime] | None = None,
) -> TableRetention:
    """Each figure is one indexed query (the age field has an index for pruning anyway)."""
    rows = model._default_manager.all()
    oldest = rows.order_by(age_field).values_list(age_field, flat=True).first()
    if oldest is not None and as_datetime is not None:
        oldest = as_datetime(oldest)
    return TableRetention(
        table=table, rows=rows.count(), size_bytes=table_bytes(model), oldest=oldest, prunable=prunable.count()
    )
