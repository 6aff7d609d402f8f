from __future__ import annotations

from django.db import models


class Identity(models.Model):
    """A durable agent identity: its spec and lifecycle state. Kept (uninitialized) after delete."""

    class State(models.TextChoices):
        ACTIVE = "active"
        RETIRING = "retiring"
        SUSPENDED = "suspended"
        UNINITIALIZED = "uninitialized"
        BROKEN = "broken"

    class Addressability(models.TextChoices):
        ADDRESSABLE = "addressable"
        INTERNAL_ONLY = "internal_only"

    name = models.CharField(max_length=200, primary_key=True)
    profile = models.CharField(max_length=200)
    addressability = models.CharField(max_length=16, choices=Addressability.choices, default="addressable")
    display_name = models.CharField(max_length=200, null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    context = models.JSONField(null=True, blank=True)
    additional_instructions = models.JSONField(default=list, blank=True)
    initial_message = models.JSONField(null=True, blank=True)
    runtime_mode_override = models.CharField(max_length=64, null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    state_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    state_changed_at = models.DateTimeField()

    class Meta:
        app_label = "identities"
        verbose_name_plural = "identities"
        indexes = [
            models.Index(fields=["state", "name"], name="identity_state_idx"),
            models.Index(fields=["profile", "name"], name="identity_profile_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class PeerEdge(models.Model):
    """A managed, undirected peer edge between two identities, stored with a < b."""

    a = models.CharField(max_length=200)
    b = models.CharField(max_length=200)

    class Meta:
        app_label = "identities"
        constraints = [
            models.UniqueConstraint(fields=["a", "b"], name="peer_edge_unique"),
            models.CheckConstraint(condition=models.Q(a__lt=models.F("b")), name="peer_edge_canonical"),
        ]
        indexes = [models.Index(fields=["b"], name="peer_edge_b_idx")]

    def __str__(self) -> str:
        return f"{self.a} – {self.b}"
