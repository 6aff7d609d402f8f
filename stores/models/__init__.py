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
from stores.models.retention import EventLogWatermark, PruneRunRecord, RetentionSchedule
from stores.models.runtime import OAuthFlowSnapshot, Runtime, RuntimeBoundaryReceipt, RuntimeInputState
from stores.models.threads import CheckpointThread, ThreadCheckpoint, ThreadWrite

__all__ = [
    "CheckpointThread",
    "ThreadCheckpoint",
    "ThreadWrite",
    "Agent",
    "AttachmentManifestRecord",
    "EventLogWatermark",
    "EventRecord",
    "MetricBucket",
    "Output",
    "OutputLink",
    "OAuthFlowSnapshot",
    "PersistedSession",
    "PruneRunRecord",
    "QueuedWorkBatchRecord",
    "RetentionSchedule",
    "Runtime",
    "RuntimeBoundaryReceipt",
    "RuntimeInputState",
    "SessionBlob",
    "SessionNode",
    "SessionTurnCommit",
]
