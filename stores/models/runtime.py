from __future__ import annotations

from django.db import models

from stores.runtime_types import InputLifecycleState, RunApplyBoundary, RuntimeState


class Runtime(models.Model):
    """One LogicalRuntimeId: its coarse state, latest session snapshot and ops-lifecycle snapshot.

    The row exists once anything was stored for the runtime; commits lock it to serialise."""

    runtime_id = models.CharField(primary_key=True, max_length=200)
    state = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in RuntimeState], null=True, blank=True
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # The exact bytes the runtime committed (validated as a UTF-8 JSON object on the way in).
    session_snapshot = models.BinaryField(null=True, blank=True)
    snapshot_committed_at = models.DateTimeField(null=True, blank=True)
    ops_lifecycle = models.JSONField(null=True, blank=True)
    ops_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        indexes = [
            models.Index(fields=["-updated_at"], name="runtime_recent_idx"),
            models.Index(fields=["state", "-updated_at"], name="runtime_state_idx"),
        ]

    def __str__(self) -> str:
        return self.runtime_id


class RuntimeInputState(models.Model):
    """One input's lifecycle record, stored as its flat wire JSON. The auto id is the
    first-insertion order that loads follow (an upsert keeps the row, hence its place)."""

    id = models.BigAutoField(primary_key=True)
    runtime = models.ForeignKey(Runtime, on_delete=models.CASCADE, related_name="inputs")
    input_id = models.UUIDField()
    # A copy of state["current_state"], for filters and the admin.
    current_state = models.CharField(max_length=32, choices=[(s.value, s.value) for s in InputLifecycleState])
    state = models.JSONField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        verbose_name = "runtime input state"
        constraints = [
            models.UniqueConstraint(fields=["runtime", "input_id"], name="runtime_input_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.runtime_id} {self.input_id} {self.current_state}"


class RuntimeBoundaryReceipt(models.Model):
    """Proof a run boundary was applied. Immutable; the unique key is what rejects a duplicate."""

    id = models.BigAutoField(primary_key=True)
    runtime = models.ForeignKey(Runtime, on_delete=models.CASCADE, related_name="receipts")
    run_id = models.UUIDField()
    sequence = models.PositiveBigIntegerField()
    boundary = models.CharField(max_length=16, choices=[(b.value, b.value) for b in RunApplyBoundary])
    receipt = models.JSONField()
    committed_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        verbose_name = "runtime boundary receipt"
        constraints = [
            models.UniqueConstraint(fields=["runtime", "run_id", "sequence"], name="runtime_receipt_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.runtime_id} {self.run_id}#{self.sequence}"


class OAuthFlowSnapshot(models.Model):
    """The one global OAuth-flow blob (PKCE verifiers, device codes): a single row, locked to update."""

    SINGLETON = "auth_oauth_flow_state"

    id = models.CharField(primary_key=True, max_length=32, default=SINGLETON)
    snapshot = models.BinaryField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "stores"
        verbose_name = "OAuth-flow snapshot"

    def __str__(self) -> str:
        return self.id
