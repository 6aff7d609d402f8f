"""Idempotency-Key for writes whose natural retry would do the work twice (claim, checkpoint).

The first answer is saved in the write's own transaction; a retry with the same key and body gets it
back (the same claim, the same checkpoint version), a retry with another body 409 `idempotency_key_reused`."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from stores.backends.orm.pruning import delete_batch, table_retention
from stores.errors import IdempotencyKeyReused
from stores.retention_types import TableRetention
from swarmsite.models import ApiToken, IdempotentAnswer


def _fingerprint(request: HttpRequest) -> str:
    return hashlib.sha256(request.path.encode() + b"\0" + request.body).hexdigest()


def earlier_answer(request: HttpRequest, operation: str, key: str | None) -> Any | None:
    """The answer a first call with this key gave, or None. Raises IdempotencyKeyReused on another body."""
    if key is None:
        return None
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    found = IdempotentAnswer.objects.filter(token_name=token.name, operation=operation, key=key).first()
    if found is None:
        return None
    if found.request_hash != _fingerprint(request):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was used for a different {operation}", operation=operation, key=key
        )
    return found.answer


def remember(request: HttpRequest, operation: str, key: str | None, answer: Any) -> None:
    """Save the answer (call inside the write's transaction, so both commit or neither)."""
    if key is None:
        return
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            IdempotentAnswer.objects.create(
                token_name=token.name, operation=operation, key=key, request_hash=_fingerprint(request),
                answer=json.loads(json.dumps(answer, default=str)),
            )
    except IntegrityError as exc:
        # Two calls with one key raced: this one's write rolls back with its transaction.
        raise IdempotencyKeyReused(
            f"another {operation} with Idempotency-Key {key!r} committed first; retry to get its answer",
            operation=operation, key=key,
        ) from exc


def answers_retention(before: datetime) -> TableRetention:
    return table_retention("idempotent answers", IdempotentAnswer, "created_at",
                           IdempotentAnswer.objects.filter(created_at__lt=before))


def prune_answers(before: datetime, limit: int) -> int:
    """Answers older than the idempotency window: a retry that late is a new call."""
    return delete_batch(IdempotentAnswer.objects.filter(created_at__lt=before), limit)
