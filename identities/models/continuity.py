from __future__ import annotations

from django.db import models


class ContinuityRow(models.Model):
    """The authoritative continuity record of one identity, with the highest fencing token seen."""

    identity = models.CharField(max_length=200, primary_key=True)
    agent_runtime_id = models.CharField(max_length=255)
    session_id = models.UUIDField()
    generation = models.BigIntegerField()
    checkpoint_version = models.BigIntegerField()
    fencing_token = models.BigIntegerField()
    updated_at = models.DateTimeField()
    checkpointed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "identities"
        db_table = "identities_continuity"
        verbose_name = "continuity record"

    def __str__(self) -> str:
        return f"{self.identity} gen {self.generation} v{self.checkpoint_version}"


class CheckpointRow(models.Model):
    """One session snapshot. Older generations are archived by reset, never deleted by it."""

    id = models.BigAutoField(primary_key=True)
    identity = models.CharField(max_length=200)
    session_id = models.UUIDField()
    generation = models.BigIntegerField()
    version = models.BigIntegerField()
    fencing_token = models.BigIntegerField()
    data = models.BinaryField()
    size = models.IntegerField()
    created_at = models.DateTimeField()
    archived = models.BooleanField(default=False)

    class Meta:
        app_label = "identities"
        db_table = "identities_checkpoint"
        verbose_name = "checkpoint"
        constraints = [
            models.UniqueConstraint(fields=["identity", "generation", "version"], name="checkpoint_version_unique"),
        ]
        indexes = [
            # load_session_snapshot reads the newest snapshot of a session.
            models.Index(fields=["session_id", "-version"], name="checkpoint_session_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} gen {self.generation} v{self.version}"
