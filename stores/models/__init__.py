"""Store models. Only stores/backends/orm, admin and migrations touch them; one module per concept."""

from stores.models.events import EventRecord
from stores.models.lifecycle import Agent
from stores.models.metrics import MetricBucket
from stores.models.outputs import Output, OutputLink
from stores.models.persistence import (
    AttachmentManifestRecord,
    PersistedSession,
    QueuedWorkBatchRecord,
    SessionBlob,
    SessionNode,
    SessionTurnCommit,
)
from stores.models.runtime import OAuthFlowSnapshot, Runtime, RuntimeBoundaryReceipt, RuntimeInputState

__all__ = [
    "Agent",
    "AttachmentManifestRecord",
    "EventRecord",
    "MetricBucket",
    "Output",
    "OutputLink",
    "OAuthFlowSnapshot",
    "PersistedSession",
    "QueuedWorkBatchRecord",
    "Runtime",
    "RuntimeBoundaryReceipt",
    "RuntimeInputState",
    "SessionBlob",
    "SessionNode",
    "SessionTurnCommit",
]
