"""swarmclient: make an agent process Swarmsite-aware in a few lines (httpx; no Django).

    from swarmclient import SwarmClient, final

    with SwarmClient("http://127.0.0.1:8000", token) as swarm:
        swarm.register(name="worker-1")
        swarm.start_heartbeat()                       # background thread, a third of the TTL
        with swarm.lease("planner") as lease:         # renewed in the background, released on exit
            claim = swarm.claim(swarm.identity_status("planner")["session_id"])
            lease.append_output("task-1", 0, final("done"))   # fenced with lease.token
            lease.checkpoint(b"state")                # StaleFencingToken once a newer owner exists

Batch calls for busy workers: `QueueWorker(swarm, session, handle).run()` claims and completes many
claims per round trip, `HeartbeatGroup(swarm, agent_ids)` keeps many agents alive with one call, and
`swarm.append_outputs([...])` appends several outputs at once.

`AsyncSwarmClient` has the same methods, awaitable (`async with swarm.lease(...)`). Errors are
exceptions named after the API's `code` (LeaseHeld, LeaseLost, StaleFencingToken, ...); reads and
deduplicated writes (sent with an Idempotency-Key) are retried with backoff."""

from swarmclient.client import AsyncSwarmClient, SwarmClient
from swarmclient.endpoints_identities import spec_fields
from swarmclient.endpoints_outputs import artifact, file_ref, final, inline, output_item, partial, progress
from swarmclient.endpoints_sessions import claim_ref, turn_input
from swarmclient.errors import (
    AgentExpired,
    Conflict,
    DuplicateIdentity,
    EventsPruned,
    Forbidden,
    HeadRevisionConflict,
    InvalidInput,
    InvalidState,
    LeaseHeld,
    LeaseLost,
    NoActiveLease,
    NotAddressable,
    NotFound,
    QueuedWorkClaimExpired,
    ServerError,
    StaleFencingToken,
    SwarmError,
    TransportError,
    Unauthorized,
    UnknownIdentity,
    UnknownParent,
)
from swarmclient.lease import AsyncLease, Lease
from swarmclient.worker import AsyncQueueWorker, HeartbeatGroup, QueueWorker, Round

__all__ = [
    "AgentExpired", "AsyncLease", "AsyncQueueWorker", "AsyncSwarmClient", "Conflict", "DuplicateIdentity",
    "EventsPruned", "Forbidden", "HeadRevisionConflict", "HeartbeatGroup", "InvalidInput", "InvalidState", "Lease",
    "LeaseHeld", "LeaseLost", "NoActiveLease", "NotAddressable", "NotFound", "QueueWorker", "QueuedWorkClaimExpired",
    "Round", "ServerError", "StaleFencingToken", "SwarmClient", "SwarmError", "TransportError", "Unauthorized",
    "UnknownIdentity", "UnknownParent", "artifact", "claim_ref", "file_ref", "final", "inline", "output_item",
    "partial", "progress", "spec_fields", "turn_input",
]
