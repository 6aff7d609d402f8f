from __future__ import annotations

from django.db import models


class LeaseRow(models.Model):
    """The current lease of one identity. The row is the lock every fenced write takes."""

    class State(models.TextChoices):
        FREE = "free"
        HELD = "held"
        RELEASED = "released"
        LOST = "lost"
        FENCED = "fenced"

    identity = models.CharField(max_length=200, primary_key=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.FREE)
    fencing_token = models.BigIntegerField(default=0)
    holder = models.UUIDField(null=True, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ttl_ms = models.BigIntegerField(default=0)
    last_holder = models.UUIDField(null=True, blank=True)
    lost_reason = models.CharField(max_length=32, blank=True, default="")
    ended_at = models.DateTimeField(null=True, blank=True)
    # When a renewal was last written to the event log (renewals are coalesced there, like heartbeats).
    renew_logged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "identities"
        db_table = "identities_lease"
        verbose_name = "lease"
        indexes = [
            # The expiry sweep reads held leases by expiry; the agent-expiry hook by holder.
            models.Index(fields=["state", "expires_at"], name="lease_state_expiry_idx"),
            models.Index(fields=["holder"], name="lease_holder_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identity} #{self.fencing_token} {self.state}"


class FencingCounter(models.Model):
    """The single-row fencing token counter (databases without sequences; PostgreSQL uses a sequence)."""

    id = models.IntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    class Meta:
        app_label = "identities"
        db_table = "identities_fencing_counter"

    def __str__(self) -> str:
        return str(self.value)


class LeaseGrant(models.Model):
    """Who each fencing token was granted to, so a refused write says which agent tried and whether its
    token was ever the owner's (one row per grant; tokens are never reused)."""

    token = models.BigIntegerField(primary_key=True)
    identity = models.CharField(max_length=200)
    holder = models.UUIDField()
    granted_at = models.DateTimeField()

    class Meta:
        app_label = "identities"
        db_table = "identities_lease_grant"
        indexes = [models.Index(fields=["granted_at"], name="lease_grant_time_idx")]

    def __str__(self) -> str:
        return f"#{self.token} {self.identity} to {self.holder}"


class OwnedResource(models.Model):
    """What an identity owns, recorded when the resource is created or bound: its sessions (every
    generation's), runtime ids and its outputs' producer name. Writes to an owned resource need the
    owner's current fencing token; resources with no row here are unfenced."""

    class Kind(models.TextChoices):
        SESSION = "session"
        RUNTIME = "runtime"
        IDENTITY = "identity"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    resource_id = models.CharField(max_length=255)  # runtime ids are the name plus a suffix
    identity = models.CharField(max_length=200)

    class Meta:
        app_label = "identities"
        db_table = "identities_owned_resource"
        constraints = [models.UniqueConstraint(fields=["kind", "resource_id"], name="owned_resource_unique")]
        indexes = [models.Index(fields=["identity"], name="owned_resource_identity_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.resource_id} of {self.identity}"
