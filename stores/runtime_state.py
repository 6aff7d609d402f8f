"""The RuntimeState machine: the one legal-transition table, and the only way to build a commit.

A `MachineLifecycleCommit` can only come from `plan_transition`, so no caller can write a runtime
state the table does not allow. Stores re-check the plan inside their transaction
(`check_commit`): the state read when planning must still be the stored one, so two racing
commits cannot both move the runtime from the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stores.errors import InvalidTransition
from stores.runtime_types import LogicalRuntimeId, RuntimeState

S = RuntimeState

# Semantics 4.2. A runtime with no stored state has not started: it can only begin initializing.
LEGAL_TRANSITIONS: Mapping[RuntimeState | None, frozenset[RuntimeState]] = {
    None: frozenset({S.INITIALIZING}),
    S.INITIALIZING: frozenset({S.IDLE, S.STOPPED, S.DESTROYED}),
    S.IDLE: frozenset({S.ATTACHED, S.RUNNING, S.RETIRED, S.STOPPED, S.DESTROYED}),
    S.ATTACHED: frozenset({S.RUNNING, S.IDLE, S.RETIRED, S.STOPPED, S.DESTROYED}),
    S.RUNNING: frozenset({S.IDLE, S.ATTACHED, S.RETIRED, S.STOPPED, S.DESTROYED}),
    S.RETIRED: frozenset({S.RUNNING, S.STOPPED, S.DESTROYED}),
    S.STOPPED: frozenset({S.DESTROYED}),
    S.DESTROYED: frozenset(),
}

_MINT = object()


@dataclass(frozen=True)
class MachineLifecycleCommit:
    """A planned move from `from_state` to `runtime_state`. Built only by `plan_transition`."""

    from_state: RuntimeState | None
    runtime_state: RuntimeState
    _mint: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._mint is not _MINT:
            raise TypeError("MachineLifecycleCommit is built only by stores.runtime_state.plan_transition")

    @property
    def changes_state(self) -> bool:
        return self.from_state != self.runtime_state


def allowed_next(state: RuntimeState | None) -> list[RuntimeState]:
    """The states `state` may move to, in table order (what the detail page offers)."""
    return [s for s in RuntimeState if s in LEGAL_TRANSITIONS[state]]


def is_legal(current: RuntimeState | None, target: RuntimeState) -> bool:
    # Staying put is how a machine commits input states without a state change; a destroyed
    # runtime is final, so not even that.
    if current == target:
        return not target.is_terminal
    return target in LEGAL_TRANSITIONS[current]


def plan_transition(
    current: RuntimeState | None, target: RuntimeState, *, runtime_id: LogicalRuntimeId = ""
) -> MachineLifecycleCommit:
    """The commit moving `current` to `target`. InvalidTransition if the table forbids it."""
    if not is_legal(current, target):
        shown = current.value if current is not None else "(none)"
        raise InvalidTransition(
            f"runtime {runtime_id!r} cannot move from {shown} to {target.value}; "
            f"allowed: {', '.join(s.value for s in allowed_next(current)) or 'nothing (terminal)'}",
            runtime_id=runtime_id,
            from_state=current.value if current is not None else None,
            to_state=target.value,
            allowed=[s.value for s in allowed_next(current)],
        )
    return MachineLifecycleCommit(from_state=current, runtime_state=target, _mint=_MINT)


def check_commit(stored: RuntimeState | None, commit: MachineLifecycleCommit, *, runtime_id: LogicalRuntimeId) -> None:
    """Inside the store's transaction: InvalidTransition unless the plan started from the stored state."""
    if stored != commit.from_state:
        raise InvalidTransition(
            f"runtime {runtime_id!r} is now {stored.value if stored else '(none)'}, not "
            f"{commit.from_state.value if commit.from_state else '(none)'} as planned; read it and retry",
            runtime_id=runtime_id,
            from_state=commit.from_state.value if commit.from_state is not None else None,
            to_state=commit.runtime_state.value,
            current_state=stored.value if stored is not None else None,
            allowed=[s.value for s in allowed_next(stored)],
        )


def describe(state: RuntimeState | None) -> str:
    """What the state means for the runtime's inputs, in words (the pages show it as the "why")."""
    if state is None:
        return "no state committed yet: the runtime has not started initializing"
    if state.is_terminal:
        return "destroyed: final; nothing can change it any more"
    if state is RuntimeState.STOPPED:
        return "stopped: accepts no input and processes no queue; it can only be destroyed"
    accepts = "accepts input" if state.can_accept_input else "accepts no new input"
    queue = "processes its queue" if state.can_process_queue else "its queue waits"
    return f"{state.value}: {accepts}; {queue}"
