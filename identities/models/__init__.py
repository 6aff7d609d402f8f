"""Identity runtime models. Only identities/backends/orm, admin and migrations touch them."""

from identities.models.audit import AuditEntry, StaleWriteRejection
from identities.models.continuity import CheckpointRow, ContinuityRow
from identities.models.identity import Identity, PeerEdge
from identities.models.leases import FencingCounter, LeaseGrant, LeaseRow, OwnedResource

__all__ = [
    "AuditEntry",
    "CheckpointRow",
    "ContinuityRow",
    "FencingCounter",
    "Identity",
    "LeaseGrant",
    "LeaseRow",
    "OwnedResource",
    "PeerEdge",
    "StaleWriteRejection",
]
