from __future__ import annotations

from django.db import models


class Output(models.Model):
    """One appended output (immutable). The autoincrement id is the insertion sequence ("latest")."""

    id = models.BigAutoField(primary_key=True)
    ref = models.CharField(max_length=14, unique=True)
    task_id = models.CharField(max_length=200)
    attempt = models.PositiveBigIntegerField()
    producer_agent = models.CharField(max_length=200)
    # Denormalised from event["type"] so the list can filter on it without reading JSON.
    kind = models.CharField(max_length=16)
    # The wire form (stores/output_types.py): a new event variant needs no migration.
    event = models.JSONField()
    # Verbatim (order kept) for reads; OutputLink rows carry the same edges for children_of.
    parent_refs = models.JSONField(default=list)
    identity = models.CharField(max_length=200, null=True, blank=True)
    fencing_token = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        indexes = [
            # Each index ends in id so "latest"/"in order" is an index range scan, not a sort.
            models.Index(fields=["producer_agent", "id"], name="output_producer_seq_idx"),
            models.Index(fields=["task_id", "attempt", "id"], name="output_attempt_seq_idx"),
            models.Index(fields=["task_id", "attempt", "producer_agent", "id"], name="output_run_producer_idx"),
            models.Index(fields=["kind", "id"], name="output_kind_seq_idx"),
            # The overview counts the last hour's outputs; optional retention prunes by age.
            models.Index(fields=["created_at"], name="output_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["producer_agent", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="output_idempotency_key_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.kind} by {self.producer_agent}"


class OutputLink(models.Model):
    """A lineage edge: `child` names `parent` among its parent refs (at `position`)."""

    id = models.BigAutoField(primary_key=True)
    # PROTECT: an edge must never dangle; retention deletes an output's own edges with it and never
    # deletes an output that still has children.
    # The unique (child, parent) and the (parent, child) index serve both directions.
    child = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="parent_links", db_index=False)
    parent = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="child_links", db_index=False)
    position = models.PositiveSmallIntegerField()

    class Meta:
        app_label = "stores"
        verbose_name = "output lineage link"
        constraints = [models.UniqueConstraint(fields=["child", "parent"], name="output_link_uniq")]
        indexes = [models.Index(fields=["parent", "child"], name="output_link_parent_idx")]

    def __str__(self) -> str:
        return f"{self.parent_id} -> {self.child_id}"
