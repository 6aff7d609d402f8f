from __future__ import annotations

from django.db import models


class CheckpointThread(models.Model):
    """A checkpoint thread; `identity` owns it once a fenced write created (or adopted) it."""

    id = models.BigAutoField(primary_key=True)
    thread_id = models.CharField(max_length=200, unique=True)
    identity = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        indexes = [models.Index(fields=["identity", "updated_at"], name="cpthread_identity_idx")]

    def __str__(self) -> str:
        return self.thread_id


class ThreadCheckpoint(models.Model):
    id = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(CheckpointThread, on_delete=models.CASCADE, related_name="checkpoints")
    checkpoint_ns = models.CharField(max_length=255, blank=True, default="")
    checkpoint_id = models.CharField(max_length=64)
    parent_checkpoint_id = models.CharField(max_length=64, null=True, blank=True)
    payload_type = models.CharField(max_length=64)
    payload = models.BinaryField()
    metadata = models.JSONField(default=dict)
    # Denormalised from metadata["run_id"] so delete_for_runs is an index lookup.
    run_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    identity = models.CharField(max_length=200, null=True, blank=True)
    fencing_token = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        constraints = [
            models.UniqueConstraint(fields=["thread", "checkpoint_ns", "checkpoint_id"], name="thread_checkpoint_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint_ns}/{self.checkpoint_id}"


class ThreadWrite(models.Model):
    """A pending write of one checkpoint: (task_id, idx) is unique within it. Keyed by the checkpoint's id,
    not a foreign key, because LangGraph may send a step's writes before that checkpoint's own put lands."""

    id = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(CheckpointThread, on_delete=models.CASCADE, related_name="writes")
    checkpoint_ns = models.CharField(max_length=255, blank=True, default="")
    checkpoint_id = models.CharField(max_length=64)
    task_id = models.CharField(max_length=200)
    idx = models.IntegerField()
    channel = models.CharField(max_length=255)
    value_type = models.CharField(max_length=64)
    value = models.BinaryField()
    task_path = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        app_label = "stores"
        constraints = [
            models.UniqueConstraint(fields=["thread", "checkpoint_ns", "checkpoint_id", "task_id", "idx"],
                                    name="thread_write_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id}[{self.idx}] {self.channel}"
