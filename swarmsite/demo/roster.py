"""The demo roster (three teams of four, with peer edges) and the deterministic text work each
profile does. No model: every answer is a pure function of the profile and the text."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from swarmclient import spec_fields

TEAMS: dict[str, list[str]] = {
    "research": ["scout", "analyst", "archivist", "summarizer"],
    "writing": ["drafter", "editor", "titler", "translator"],
    "review": ["critic", "checker", "counter", "approver"],
}
# These take only internal traffic (dispatch), so the demo exercises both delivery paths.
INTERNAL_ONLY = {"archivist", "checker"}
# Cross-team edges on top of a full mesh inside each team: where work flows between teams.
BRIDGES = [("research-summarizer", "writing-drafter"), ("writing-titler", "review-critic"),
           ("review-approver", "research-archivist")]

SENTENCES = [
    "agents that lease an identity must renew it before the lease runs out",
    "a fencing token rejects the late writes of an agent that lost its lease",
    "checkpoints let a new owner resume where the previous one stopped",
    "the inbox keeps every message until an agent completes its claim",
    "outputs name their parents so the lineage graph never dangles",
    "an expired agent frees its leases and claims for the rest of the swarm",
    "operators respawn stuck identities and the next owner resumes from a checkpoint",
    "heartbeats tell the control plane which agents are still alive",
    "a stale write is recorded so people can see who tried it and when",
    "the dashboard updates live whenever an event is committed",
    "idempotency keys make retried writes safe after a lost answer",
    "peers forward partial answers to each other across teams",
]


def identity_name(team: str, role: str) -> str:
    return f"{team}-{role}"


def roster() -> list[dict[str, Any]]:
    """The identities in the wire form of /roster/restore."""
    return [
        {"identity": identity_name(team, role), **spec_fields(
            role, display_name=f"{role.title()} ({team})", labels={"team": team, "demo": "yes"},
            addressability="internal_only" if role in INTERNAL_ONLY else "addressable",
            context={"team": team, "role": role},
        )}
        for team, roles in TEAMS.items() for role in roles
    ]


def peer_edges() -> list[tuple[str, str]]:
    edges = [
        (identity_name(team, a), identity_name(team, b))
        for team, roles in TEAMS.items() for i, a in enumerate(roles) for b in roles[i + 1:]
    ]
    return edges + BRIDGES


# -- the work ---------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z']+", text)


def _pig_latin(word: str) -> str:
    lower = word.lower()
    for i, ch in enumerate(lower):
        if ch in "aeiou":
            return lower[i:] + lower[:i] + ("way" if i == 0 else "ay")
    return lower + "ay"


WORK: dict[str, Callable[[str], str]] = {
    "scout": lambda t: "keywords: " + ", ".join(sorted({w.lower() for w in _words(t) if len(w) > 6})[:5]),
    "analyst": lambda t: f"{len(_words(t))} words, longest '{max(_words(t) or [''], key=len)}'",
    "archivist": lambda t: f"archived {len(t)} characters: {t[:48]}",
    "summarizer": lambda t: " ".join(_words(t)[:7]) + " ...",
    "drafter": lambda t: (t[:1].upper() + t[1:]).rstrip(".") + ".",
    "editor": lambda t: re.sub(r"\b(\w+) \1\b", r"\1", t).replace(" that ", " which "),
    "titler": lambda t: " ".join(w.capitalize() for w in _words(t)[:6]),
    "translator": lambda t: " ".join(_pig_latin(w) for w in _words(t)[:8]),
    "critic": lambda t: ("too long: " if len(_words(t)) > 10 else "concise: ") + t[:40],
    "checker": lambda t: f"{sum(ch in 'aeiou' for ch in t.lower())} vowels, {t.count(' ') + 1} tokens",
    "counter": lambda t: f"{len(t)} chars, {len(set(t.lower()) - set(' '))} distinct letters",
    "approver": lambda t: f"approved: {t[:56]}",
}


def work(profile: str, text: str) -> str:
    """What an identity with this profile answers to this text (the same every time)."""
    return WORK.get(profile, lambda t: t)(text)
