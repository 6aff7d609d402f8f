from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """Who did what to an identity (or a session, or an API token), when, why, and how it ended. Written
    with the action itself."""

    id = models.BigAutoField(primary_key=True)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=32)
    # Room for a session id (200) behind its "session:" prefix.
    identity = models.CharField(
        max_length=220,
        help_text='The subject: an identity name, or "session:<id>" / "token:<name>" for session and token actions.',
    )
    reason = models.CharField(max_length=1000, blank=True, default="")
    ok = models.BooleanField(default=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        app_label = "identities"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["identity", "-id"], name="audit_identity_idx"),
            models.Index(fields=["created_at"], name="audit_created_idx"),  # retention prunes by age
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.identity}"


class StaleWriteRejection(models.Model):
    """A write refused because it carried a stale fencing token: the evidence a zombie was stopped."""

    id = models.BigAutoField(primary_key=True)
    identity = models.CharField(max_length=200)
    agent_id = models.UUIDField(null=True, blank=True)
    presented_token = models.BigIntegerField(null=True, blank=True)  # none: the write carried no token
    current_token = models.BigIntegerField(null=True, blank=True)
    operation = models.CharField(max_length=64)
    # Why it was refused (stale_fencing_token, fence_mismatch, fencing_token_required) and by whom: the
    # API token's name (the agent is agent_id, from the token's grant).
    code = models.CharField(max_length=32, default="stale_fencing_token")
    caller = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        app_label = "identities"
        indexes = [
            models.Index(fields=["identity", "-id"], name="rejection_identity_idx"),
            # The overview counts the last hour's rejections; retention prunes by age.
            models.Index(fields=["created_at"], name="rejection_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} on {self.identity} with #{self.presented_token} (current #{self.current_token})"
