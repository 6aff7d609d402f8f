"""The JSON event stream of one identity, for agents: ws/identities/<name>/events/.

Authenticated by an API token (`Authorization: Bearer ...` on the handshake, or `?token=` for clients
that cannot set headers). `?after=<event id>` resumes: the missed events from the log come first,
then live ones, without gaps or repeats. Cookies play no part, so the origin check does not apply."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator

from identities.errors import IdentityRuntimeError
from identities.types import validate_identity
from stores.events import resume_gap, subject_group
from swarmsite.api.auth import BearerToken
from swarmsite.composition import event_log, identity_runtime
from swarmsite.live.follow import LogFollower, PushReceiver, log_reader

STREAM_PREFIX = "/ws/identities/"
CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN = 4401, 4404


def _token_from(scope: Any, query: dict[str, list[str]]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = value.decode("latin1").partition(" ")
            if scheme.lower() == "bearer":
                return secret.strip()
    return (query.get("token") or [""])[0]


def _authorized(secret: str) -> bool:
    return BearerToken().authenticate(None, secret) is not None  # type: ignore[arg-type]


def _known(name: str) -> bool:
    try:
        identity_runtime().status(validate_identity(name))
    except IdentityRuntimeError:
        return False
    return True


def _resume_gap(after: int) -> int | None:
    return resume_gap(event_log().pruned_through(), after)


def resync_message(after: int, pruned_through: int) -> dict[str, Any]:
    return {
        "type": "resync", "code": "events_pruned", "after": after, "pruned_through": pruned_through,
        "detail": f"events after #{after} up to #{pruned_through} were pruned: resync, then resume after "
                  f"{pruned_through}",
    }


def _wire(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "type"}


class IdentityEventsConsumer(PushReceiver, AsyncWebsocketConsumer):
    name = ""
    group = ""
    follower: LogFollower | None = None

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.name = self.scope["url_route"]["kwargs"]["name"]
        if not await database_sync_to_async(_authorized)(_token_from(self.scope, query)):
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        if not await database_sync_to_async(_known)(self.name):
            await self.close(code=CLOSE_UNKNOWN)
            return
        try:
            after = max(0, int((query.get("after") or ["0"])[0]))
        except ValueError:
            after = 0
        # Join before replaying: a push arriving meanwhile only rings the follower, whose one
        # cursor sends each event once, in id order (live/follow.py).
        self.group = subject_group("identity", self.name)
        self.follower = LogFollower(log_reader("identity", self.name), self._send_events)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._resync_if_pruned(after)
        self.resume_from(after)

    async def _resync_if_pruned(self, after: int) -> None:
        gap = await database_sync_to_async(_resume_gap)(after)
        if gap is not None:
            # The client's cursor is gone: it must resync before trusting the stream again.
            await self.send(text_data=json.dumps(resync_message(after, gap)))

    def resume_from(self, after: int) -> None:
        """The replay point: everything in the log after `after` is sent, then live events follow."""
        if self.follower is not None:
            self.follower.start(max(after, 0))

    async def _send_events(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self.send(text_data=json.dumps(_wire(message)))

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.follower is not None:
            await self.follower.stop()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A client may ask again for what it missed: {"resume_after": <event id>}."""
        try:
            after = int(json.loads(text_data or "{}").get("resume_after", 0))
        except (ValueError, TypeError, AttributeError):
            return
        self.resume_from(after)



class OriginCheckExceptTokenStreams:
    """The origin check protects cookie-authenticated browser sockets; agents' token-authenticated
    identity streams (which usually send no Origin header) go straight through."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.checked = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket" and str(scope.get("path", "")).startswith(STREAM_PREFIX):
            return await self.app(scope, receive, send)
        return await self.checked(scope, receive, send)
