"""The demo's session and runtime keeper: a thread that commits turns to a few notebook sessions and
drives a few runtimes through their states and run boundaries, so the Sessions and Runtimes pages (and
their charts and feed entries) have life while the demo runs. Apart from the agents' own behaviour."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from typing import Any

from swarmclient import SwarmClient, SwarmError
from swarmsite.demo.stats import Stats

log = logging.getLogger("swarmsite.demo")

NOTEBOOKS = 3
RUNTIMES = 3
# Where each runtime goes next when it may: mostly between idle and running, now and then attached.
PREFERRED = ("running", "idle", "attached")


class SessionRuntimeKeeper(threading.Thread):
    def __init__(self, url: str, token: str, run_id: str, stats: Stats, stop: threading.Event,
                 *, every_s: float = 2.0, seed: int = 11) -> None:
        super().__init__(name="demo-keeper", daemon=True)
        self.run_id, self.stats, self.stop, self.every_s = run_id, stats, stop, every_s
        self.rng = random.Random(seed)
        self.client = SwarmClient(url, token, event_hooks=stats.hooks)
        self.heads: dict[str, int | None] = {}
        self.sequences: dict[str, int] = {}
        self.runs: dict[str, str] = {}
        self.turns = 0

    def run(self) -> None:
        while not self.stop.wait(self.every_s * self.rng.uniform(0.6, 1.4)):
            try:
                self.commit_turn(f"demo-notes-{self.run_id}-{self.rng.randrange(NOTEBOOKS)}")
                self.drive_runtime(f"demo-rt-{self.run_id}-{self.rng.randrange(RUNTIMES)}")
            except SwarmError as error:
                self.stats.expect(error)
        self.client.close()

    def commit_turn(self, session_id: str) -> None:
        self.turns += 1
        node = f"turn-{self.turns:05d}"
        note = {"node_id": node, "payload": {"type": "note", "text": f"turn {self.turns}"}}
        graph: dict[str, Any] = {"mode": "append", "leaf_node_id": node, "nodes": [note]}
        try:
            result = self.client.commit_session(
                session_id, expected_head_revision=self.heads.get(session_id), graph=graph,
                turn_id=f"{session_id}:{node}", checkpoint={"turn_state": {"turns": self.turns}},
            )
        except SwarmError:
            self.heads.pop(session_id, None)  # another writer moved the head: read it again next time
            loaded = self.client.load_session(session_id)
            self.heads[session_id] = loaded.get("head_revision") if isinstance(loaded, dict) else None
            raise
        self.heads[session_id] = result["head_revision"]
        self.stats.add("session commits")

    def drive_runtime(self, runtime_id: str) -> None:
        if runtime_id not in self.sequences:
            self.client.set_runtime_state(runtime_id, "initializing")
            self.client.set_runtime_state(runtime_id, "idle")
            self.sequences[runtime_id] = 0
            self.runs[runtime_id] = str(uuid.uuid4())
            return
        allowed = self.client.runtime_state(runtime_id).get("allowed_next", [])
        choices = [s for s in PREFERRED if s in allowed]
        if choices:
            self.client.set_runtime_state(runtime_id, self.rng.choice(choices))
        sequence = self.sequences[runtime_id]
        receipt = {"run_id": self.runs[runtime_id], "boundary": "run_start" if sequence == 0 else "run_checkpoint",
                   "sequence": sequence}
        self.client.apply_run_boundary(runtime_id, receipt, session_snapshot={"turns": self.turns})
        self.sequences[runtime_id] = sequence + 1
        self.stats.add("runtime boundaries")
