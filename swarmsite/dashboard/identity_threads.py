"""The identity page's threads panel: the checkpoint threads the identity owns (LangGraph checkpointers,
Agents SDK sessions) and each one's latest root checkpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from identities.runtime import IdentityRuntime
from swarmsite.composition import thread_store

THREADS_SHOWN = 10


def threads_panel(runtime: IdentityRuntime, name: str, now: datetime) -> dict[str, Any]:
    page = thread_store().list_threads(identity=name, limit=THREADS_SHOWN)
    # Live subjects as the websocket marker names them (identity_panels.subject), for the identity and each thread.
    threads = [f"thread:{quote(t.thread_id, safe='')}" for t in page.items]
    subjects = " ".join([f"identity:{quote(name, safe='')}", *threads])
    return {"threads": page.items, "thread_total": page.total, "thread_subjects": subjects}
