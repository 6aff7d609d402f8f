"""RuntimePersistence tables: a session's head, graph, blobs, turn records, inbox and attachments."""

from __future__ import annotations

from django.db import models

from stores.queue_types import BatchOutcome, DeliveryPolicy, SlotPolicy


class PersistedSession(models.Model):
    """One session: its head (null until the first commit) and its metadata. Commits lock this row."""

    session_id = models.CharField(primary_key=True, max_length=200)
    head_revision = models.BigIntegerField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    agent_frames = models.JSONField(default=list, blank=True)
    current_agent_frame_id = models.CharField(max_length=200, null=True, blank=True)
    checkpoint_ref = models.CharField(max_length=64, null=True, blank=True)
    leaf_node_id = models.CharField(max_length=200, null=True, blank=True)
    graph_node_count = models.IntegerField(default=0)
    # Merged per (source, model) at commit time, in first-seen order.
    token_ledger = models.JSONField(default=list, blank=True)
    meta = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        verbose_name = "session"
        indexes = [models.Index(fields=["-updated_at"], name="psession_recent_idx")]

    def __str__(self) -> str:
        return self.session_id


class SessionNode(models.Model):
    """One graph node; the auto id is the stored order."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(PersistedSession, on_delete=models.CASCADE, related_name="nodes")
    node_id = models.CharField(max_length=200)
    parent_node_id = models.CharField(max_length=200, null=True, blank=True)
    caused_by = models.CharField(max_length=200, null=True, blank=True)
    agent_frame_id = models.CharField(max_length=200, null=True, blank=True)
    timestamp = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField(default=dict)
    tombstoned = models.BooleanField(default=False)

    class Meta:
        app_label = "stores"
        constraints = [models.UniqueConstraint(fields=["session", "node_id"], name="session_node_unique")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.node_id}"


class SessionBlob(models.Model):
    """A content-addressed blob (checkpoint manifests and snapshots), per session so GC stays local."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(PersistedSession, on_delete=models.CASCADE, related_name="blobs")
    ref = models.CharField(max_length=64)
    data = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        constraints = [models.UniqueConstraint(fields=["session", "ref"], name="session_blob_unique")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.ref[:12]}"


class SessionTurnCommit(models.Model):
    """A final turn commit: its state hash and the result a retry gets back."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(PersistedSession, on_delete=models.CASCADE, related_name="turn_commits")
    turn_id = models.CharField(max_length=200)
    turn_commit_hash = models.CharField(max_length=64)
    result = models.JSONField()
    committed_at = models.DateTimeField()

    class Meta:
        app_label = "stores"
        constraints = [models.UniqueConstraint(fields=["session", "turn_id"], name="session_turn_unique")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.turn_id}"


class QueuedWorkBatchRecord(models.Model):
    """One queued-work batch. The auto id is the enqueue sequence. A live claim is the claim columns
    with claim_expires_at_ms > now; claim_fencing_token only ever grows."""

    enqueue_seq = models.BigAutoField(primary_key=True)
    batch_id = models.CharField(max_length=80, unique=True)
    session = models.ForeignKey(PersistedSession, on_delete=models.CASCADE, related_name="queued_batches")
    source_key = models.CharField(max_length=300, null=True, blank=True)
    delivery_policy = models.CharField(max_length=32, choices=[(p.value, p.value) for p in DeliveryPolicy])
    slot_policy = models.CharField(max_length=16, choices=[(p.value, p.value) for p in SlotPolicy])
    merge_key = models.CharField(max_length=220)
    available_at_ms = models.BigIntegerField()
    enqueued_at_ms = models.BigIntegerField()
    payloads = models.JSONField(default=list)
    claim_id = models.CharField(max_length=64, null=True, blank=True)
    claim_owner = models.CharField(max_length=200, null=True, blank=True)
    claim_lease_token = models.CharField(max_length=64, null=True, blank=True)
    claimed_at_ms = models.BigIntegerField(null=True, blank=True)
    claim_expires_at_ms = models.BigIntegerField(null=True, blank=True)
    claim_fencing_token = models.BigIntegerField(default=0)
    # Set when a keyed batch is completed or cancelled: the row stays as its source key's record.
    outcome = models.CharField(
        max_length=16, choices=[(o.value, o.value) for o in BatchOutcome], null=True, blank=True
    )

    class Meta:
        app_label = "stores"
        verbose_name = "queued work batch"
        verbose_name_plural = "queued work batches"
        constraints = [
            models.UniqueConstraint(fields=["session", "source_key"], name="queued_work_source_key_unique"),
        ]
        indexes = [
            # Claims scan a session's open batches in enqueue order.
            models.Index(fields=["session", "outcome", "enqueue_seq"], name="queued_work_open_idx"),
            # Agent expiry releases claims by owner.
            models.Index(fields=["claim_owner"], name="queued_work_owner_idx"),
            # Pruning removes finished batches by age; the overview counts open ones (outcome null).
            models.Index(fields=["outcome", "enqueued_at_ms"], name="queued_work_finished_idx"),
        ]

    def __str__(self) -> str:
        return self.batch_id


class AttachmentManifestRecord(models.Model):
    """The attachment write-ahead manifest: an intent until a commit stamps committed_at_ms."""

    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(PersistedSession, on_delete=models.CASCADE, related_name="attachments")
    attachment_id = models.CharField(max_length=200)
    canonical_uri = models.CharField(max_length=2000)
    intent_at_ms = models.BigIntegerField()
    committed_at_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        app_label = "stores"
        verbose_name = "attachment manifest entry"
        verbose_name_plural = "attachment manifest entries"
        constraints = [
            models.UniqueConstraint(fields=["session", "attachment_id"], name="attachment_manifest_unique"),
        ]
        indexes = [models.Index(fields=["session", "committed_at_ms", "intent_at_ms"], name="attachment_pending_idx")]

    def __str__(self) -> str:
        return f"{self.session_id}/{self.attachment_id}"
