"""Audit entries name their subject in one column: an identity's name, or `session:<id>` / `token:<name>`
for session and token actions. Identity names may contain a colon, so the action (not the prefix
alone) decides what kind of subject an entry has."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from identities.types import AuditRecord

SESSION_PREFIX, TOKEN_PREFIX = "session:", "token:"
SESSION_ACTIONS = frozenset({"batch_cancelled", "session_vacuumed", "session_gc"})
TOKEN_ACTIONS = frozenset({"token_created", "token_revoked"})


def session_subject(session_id: str) -> str:
    return SESSION_PREFIX + session_id


def token_subject(name: str) -> str:
    return TOKEN_PREFIX + name


@dataclass(frozen=True)
class AuditSubject:
    kind: str  # identity | session | token
    name: str
    url: str


def subject_of(record: AuditRecord) -> AuditSubject:
    """What an entry is about and where its page is (tokens have no page of their own but the list)."""
    subject = record.identity
    if record.action in SESSION_ACTIONS and subject.startswith(SESSION_PREFIX):
        session_id = subject.removeprefix(SESSION_PREFIX)
        return AuditSubject("session", session_id, _url("session", session_id))
    if record.action in TOKEN_ACTIONS and subject.startswith(TOKEN_PREFIX):
        return AuditSubject("token", subject.removeprefix(TOKEN_PREFIX), reverse("tokens"))
    return AuditSubject("identity", subject, _url("identity", subject))


def _url(name: str, arg: str) -> str:
    # A subject no page can show (a slash in a session id) is listed without a link, not a 500.
    try:
        return reverse(name, args=[arg])
    except NoReverseMatch:
        return ""
