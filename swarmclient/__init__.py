"""swarmclient: make an agent process Swarmsite-aware in a few lines (httpx; no Django)."""

from swarmclient.client import AsyncSwarmClient, SwarmClient
from swarmclient.endpoints_identities import spec_fields
from swarmclient.endpoints_outputs import artifact, file_ref, final, inline, partial, progress
from swarmclient.endpoints_sessions import claim_ref, turn_input
from swarmclient.errors import (
    AgentExpired,
    Conflict,
    DuplicateIdentity,
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

__all__ = [
    "AgentExpired", "AsyncLease", "AsyncSwarmClient", "Conflict", "DuplicateIdentity", "Forbidden",
    "HeadRevisionConflict", "InvalidInput", "InvalidState", "Lease", "LeaseHeld", "LeaseLost", "NoActiveLease",
    "NotAddressable", "NotFound", "QueuedWorkClaimExpired", "ServerError", "StaleFencingToken", "SwarmClient",
    "SwarmError", "TransportError", "Unauthorized", "UnknownIdentity", "UnknownParent", "artifact", "claim_ref",
    "file_ref", "final", "inline", "partial", "progress", "spec_fields", "turn_input",
]
