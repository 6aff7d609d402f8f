"""An identity's live event stream over the server's websocket (ws/identities/<name>/events/).

The server replays what was missed after `?after=<event id>` and then sends every later event from
its durable log, in id order, without gaps or repeats (a push it lost is read from the log); on a
dropped connection we reconnect from the last id we yielded, so a consumer sees every event once, in
order, across reconnects."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect as sync_connect

from swarmclient.core import backoff_s
from swarmclient.errors import EventsPruned, Forbidden

RECV_SLICE_S = 0.5  # how often a blocked receive looks at `stop`
# Pings keep an idle stream open through proxies and NATs (the server pings too); a peer that stops
# answering is dropped and we reconnect, resuming after the last id.
PING_INTERVAL_S, PING_TIMEOUT_S = 20.0, 20.0


def ws_url(api_base: str, identity: str, after: int) -> str:
    parts = urlsplit(api_base)
    root = parts.path[: -len("/api/v1")] if parts.path.endswith("/api/v1") else parts.path.rstrip("/")
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = f"{root}/ws/identities/{quote(identity, safe='')}/events/"
    return urlunsplit((scheme, parts.netloc, path, f"after={after}", ""))


def _refused(error: InvalidStatus) -> Forbidden:
    # The server closes the handshake (HTTP 403) for a bad token or an unknown identity; the
    # caller checked both over HTTP first, so this means the token was revoked meanwhile.
    return Forbidden(error.response.status_code, "forbidden", "the event stream refused the connection")


def _advance(after: int, raw: str | bytes) -> tuple[int, dict[str, Any]]:
    event: dict[str, Any] = json.loads(raw)
    if event.get("type") == "resync":
        # The server pruned past our cursor: never carry on as if nothing was missed.
        raise EventsPruned(409, str(event.get("code") or "events_pruned"), str(event.get("detail") or ""), event)
    return max(after, int(event.get("id") or after)), event


def sync_events(
    api_base: str, token: str, identity: str, after: int, stop: threading.Event
) -> Iterator[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    attempt = 0
    while not stop.is_set():
        try:
            with sync_connect(ws_url(api_base, identity, after), additional_headers=headers, open_timeout=10,
                              ping_interval=PING_INTERVAL_S, ping_timeout=PING_TIMEOUT_S) as ws:
                attempt = 0
                while not stop.is_set():
                    try:
                        raw = ws.recv(timeout=RECV_SLICE_S)
                    except TimeoutError:
                        continue
                    after, event = _advance(after, raw)
                    yield event
        except InvalidStatus as error:
            raise _refused(error) from error
        except (OSError, WebSocketException):
            pass  # dropped: reconnect from the last id
        stop.wait(backoff_s(attempt))
        attempt = min(attempt + 1, 5)


async def async_events(
    api_base: str, token: str, identity: str, after: int, stop: asyncio.Event
) -> AsyncIterator[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    attempt = 0
    while not stop.is_set():
        try:
            async with async_connect(ws_url(api_base, identity, after), additional_headers=headers, open_timeout=10,
                                     ping_interval=PING_INTERVAL_S, ping_timeout=PING_TIMEOUT_S) as ws:
                attempt = 0
                while not stop.is_set():
                    try:
                        raw = await asyncio.wait_for(ws.recv(), RECV_SLICE_S)
                    except TimeoutError:
                        continue
                    after, event = _advance(after, raw)
                    yield event
        except InvalidStatus as error:
            raise _refused(error) from error
        except (OSError, WebSocketException):
            pass
        try:
            await asyncio.wait_for(stop.wait(), backoff_s(attempt))
        except TimeoutError:
            pass
        attempt = min(attempt + 1, 5)
