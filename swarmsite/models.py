from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "sws_"


def hash_secret(secret: str) -> str:
    # Secrets carry 256 bits of randomness, so a plain SHA-256 is enough (no slow KDF needed)
    # and it lets us look a token up by its hash with one indexed query.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the agent API. Only a hash of the secret is stored."""

    class Scope(models.TextChoices):
        AGENT = "agent"
        OPERATOR = "operator"
        ADMIN = "admin"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.AGENT)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the secret, so people can tell tokens apart without the secret.
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"

    @classmethod
    def issue(cls, name: str, scope: str = Scope.AGENT) -> tuple[ApiToken, str]:
        """Create a token and return it with its secret, which is shown once and never stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(name=name, scope=scope, secret_hash=hash_secret(secret), prefix=secret[:12])
        return token, secret

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotentAnswer(models.Model):
    """The answer of a write made with an Idempotency-Key (claims, checkpoints), saved in the write's
    transaction, so a retry whose first answer was lost gets the same claim or version, not a second."""

    token_name = models.CharField(max_length=100)
    operation = models.CharField(max_length=64)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    answer = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token_name", "operation", "key"], name="idempotent_answer_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_answer_time_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"
