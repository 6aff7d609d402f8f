"""Cross-process wake-ups of output long-polls on PostgreSQL: LISTEN/NOTIFY.

An append runs `pg_notify` inside its own transaction, so PostgreSQL delivers the notification only
if and when it commits, to every process listening; each process keeps one listening connection
(a daemon thread) that hands the producer's name to its ProducerSignal. On SQLite there is no such
channel: other processes fall back to re-checking the database every SWARM_OUTPUT_POLL_S."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import connection

log = logging.getLogger(__name__)

CHANNEL = "swarm_outputs"
MAX_PAYLOAD = 7000  # NOTIFY payloads must stay under 8000 bytes; longer names wake by the fallback


def available() -> bool:
    return connection.vendor == "postgresql"


def announce(producer: str) -> None:
    """Inside the append's transaction: wake every process's waiters for `producer` at commit."""
    if available() and len(producer.encode()) <= MAX_PAYLOAD:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, producer])


def notify_all(channel: str, payload: str) -> None:
    """Tell every process listening on `channel` (at the commit of the current transaction, if any)."""
    if available():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


def start_listener(
    notify: Callable[[str], None], channel: str = CHANNEL, on_listening: Callable[[], None] | None = None
) -> None:
    """Start this process's listening thread for `channel` (reconnects with a backoff if the database goes
    away; `on_listening` runs each time it listens again, for what a gap may have missed)."""
    params = connection.get_connection_params()
    thread = threading.Thread(target=_listen_forever, args=(params, channel, notify, on_listening),
                              name=f"listen-{channel}", daemon=True)
    thread.start()


def _listen_forever(
    params: dict[str, object], channel: str, notify: Callable[[str], None], on_listening: Callable[[], None] | None
) -> None:
    import psycopg

    delay = 0.5
    params = {k: v for k, v in params.items() if k not in {"cursor_factory", "context", "prepare_threshold"}}
    while True:
        try:
            with psycopg.connect(autocommit=True, **params) as conn:  # type: ignore[arg-type]
                conn.execute(f"LISTEN {channel}")
                if on_listening is not None:
                    on_listening()
                delay = 0.5
                for note in conn.notifies():
                    notify(note.payload)
        except Exception:  # the database restarted or the network dropped: listen again
            log.info("listener on %s lost its connection; retrying in %.1fs", channel, delay)
        time.sleep(delay)
        delay = min(delay * 2, 10.0)
