"""Verified API tokens, kept in memory for SWARM_TOKEN_CACHE_S so a request needs no database read to
authenticate, with revocation honoured at once.

A revocation (dashboard, admin, API, command) forgets the token in its own process as it commits, and
tells the other server processes: on PostgreSQL through NOTIFY, which each process's listening thread
receives within milliseconds of the commit (a listener that reconnects forgets everything, since it
may have missed some); on SQLite, whose processes share one machine, by touching a stamp file beside
the database that every authentication checks with one stat(). The cache lifetime bounds what any
lost message could leave behind."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from stores.backends.orm import wakeups
from swarmsite.models import ApiToken

CHANNEL = "swarm_token_revocations"

_tokens: dict[str, tuple[ApiToken, float]] = {}
_listening = threading.Lock()
_listener_started = False
_stamp_seen: int | None = None


def lookup(secret_hash: str) -> ApiToken | None:
    """The active token with this hash, from memory when verified within SWARM_TOKEN_CACHE_S."""
    _watch_revocations()
    now = time.monotonic()
    hit = _tokens.get(secret_hash)
    if hit is not None and hit[1] > now:
        return hit[0]
    token = ApiToken.objects.filter(secret_hash=secret_hash, revoked_at__isnull=True).first()
    if token is None:
        _tokens.pop(secret_hash, None)
        return None
    if settings.SWARM_TOKEN_CACHE_S > 0:
        if len(_tokens) >= settings.SWARM_TOKEN_CACHE_SIZE:
            _tokens.clear()
        _tokens[secret_hash] = (token, now + settings.SWARM_TOKEN_CACHE_S)
    return token


def revoked(secret_hashes: list[str]) -> None:
    """Call after a revocation's UPDATE (inside or outside its transaction): every process forgets these."""
    for secret_hash in secret_hashes:
        _tokens.pop(secret_hash, None)
        wakeups.notify_all(CHANNEL, secret_hash)
    stamp = _stamp_path()
    if stamp is not None:
        Path(stamp).touch()
        os.utime(stamp, ns=(time.time_ns(), time.time_ns()))


def token_changed(sender: type[ApiToken], instance: ApiToken, created: bool = False, **kwargs: object) -> None:
    """post_save / post_delete of a token (the admin edits scopes and revocations, or deletes): forget it."""
    if not created and instance.secret_hash:
        revoked([instance.secret_hash])


def _forget(secret_hash: str) -> None:
    _tokens.pop(secret_hash, None)


def forget_all() -> None:
    _tokens.clear()


def _watch_revocations() -> None:
    global _listener_started, _stamp_seen
    if connection.vendor == "postgresql":
        if not _listener_started:
            with _listening:
                if not _listener_started:
                    wakeups.start_listener(_forget, CHANNEL, forget_all)
                    _listener_started = True
        return
    stamp = _stamp_path()
    if stamp is None:
        return
    try:
        seen = os.stat(stamp).st_mtime_ns
    except FileNotFoundError:
        seen = 0
    if seen != _stamp_seen:
        _tokens.clear()
        _stamp_seen = seen


_stamps: dict[str, str | None] = {}


def _stamp_path() -> str | None:
    name = str(connection.settings_dict["NAME"])
    if name not in _stamps:
        on_disk = connection.vendor == "sqlite" and name not in ("", ":memory:") and not name.startswith("file:")
        _stamps[name] = f"{name}-revocations" if on_disk else None
    return _stamps[name]
