"""swarmclient: make an agent process Swarmsite-aware in a few lines (httpx; no Django)."""

from swarmclient.client import AsyncSwarmClient, SwarmClient
from swarmclient.errors import (
    AgentExpired,
    Conflict,
    Forbidden,
    InvalidInput,
    LeaseHeld,
    LeaseLost,
    NoActiveLease,
    NotFound,
    StaleFencingToken,
    SwarmError,
    TransportError,
    Unauthorized,
    UnknownIdentity,
)

__all__ = [
    "AgentExpired", "AsyncSwarmClient", "Conflict", "Forbidden", "InvalidInput", "LeaseHeld", "LeaseLost",
    "NoActiveLease", "NotFound", "StaleFencingToken", "SwarmClient", "SwarmError", "TransportError",
    "Unauthorized", "UnknownIdentity",
]
