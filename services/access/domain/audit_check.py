"""Verifying a patient's audit chain against access's key and its checkpoint: the first entry that was forged,
removed, reordered, or that access did not write. Pure: the entries, the key and the checkpoint come in.

What vouches for an entry: its own MAC under access's key (a keyed entry), access's checkpoint of the chain
(the checkpointed entry), and — down the `prev_hash` links from either — each entry they link to. Every other
entry is reported: an entry in the old plain SHA-256 format after the last one access signed, or one a keyed
entry links past, was written by someone without the key.

Entries are numbered by their `seq` (0 = the first); `verify` names the lowest-numbered problem:
- removed: a seq missing (a gap), or the chain ends before the seq access checkpointed;
- reordered: an entry where another belongs (a later one first);
- forged: a keyed entry whose MAC does not match its content, an older entry whose hash does not, an entry that
  is not the one its keyed successor (or the checkpoint) vouches for, or one of another patient's chain;
- not written by access: nothing above vouches for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .audit import GENESIS, AuditEntry, Head, authentic, signed


class Problem(StrEnum):
    REMOVED = "removed"
    REORDERED = "reordered"
    FORGED = "forged"
    UNSIGNED = "not written by access"


_RANK = {Problem.REMOVED: 0, Problem.REORDERED: 0, Problem.FORGED: 1, Problem.UNSIGNED: 2}


@dataclass(frozen=True)
class Verdict:
    """How a chain verified: its length, the first problem (None: intact) at which entry and why, the chain's head
    and the checkpoint it was compared with."""

    entries: int
    problem: Problem | None = None
    at: int | None = None  # the seq of the first entry concerned
    why: str = ""
    head: Head | None = None
    checkpoint: Head | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def unchecked(self) -> int:
        """Entries after the checkpoint (the window access has not checkpointed yet, or a chain never checkpointed)."""
        if self.head is None:
            return 0
        return self.head.seq + 1 if self.checkpoint is None else max(0, self.head.seq - self.checkpoint.seq)

    @property
    def reason(self) -> str:
        if self.problem is None:
            return "audit trail intact"
        return f"audit trail broken at entry {self.at}: {self.problem.value} ({self.why})"


class _Findings:
    def __init__(self) -> None:
        self.found: list[tuple[int, int, Problem, str]] = []

    def add(self, seq: int, problem: Problem, why: str) -> None:
        self.found.append((seq, _RANK[problem], problem, why))

    def first(self) -> tuple[int, Problem, str] | None:
        if not self.found:
            return None
        seq, _, problem, why = min(self.found)
        return seq, problem, why


def verify(entries: Sequence[AuditEntry], key: bytes, checkpoint: Head | None = None,
           patient: str | None = None) -> Verdict:
    """`entries` as stored (ascending seq) or as a file lists them; `patient`: whose chain it must be."""
    findings = _Findings()
    ordered = _in_place(entries, findings)
    owner = patient if patient is not None else (entries[0].patient if entries else None)
    anchors: list[int] = []
    for i, entry in enumerate(ordered):
        if entry.patient != owner:
            findings.add(i, Problem.FORGED, "an entry of another patient's chain")
        elif not authentic(entry, key):
            findings.add(i, Problem.FORGED, "its MAC does not match its content" if entry.mac else
                         "its hash does not match its content")
        elif signed(entry, key):
            anchors.append(i)
    if checkpoint is not None:
        if checkpoint.seq >= len(ordered):
            if len(ordered) == len(entries):  # otherwise a gap or a misplaced entry is reported at that seq
                ends = f"the chain ends at entry {len(ordered) - 1}" if ordered else "the chain is empty"
                findings.add(len(ordered), Problem.REMOVED, f"{ends}; access checkpointed entry {checkpoint.seq}")
        elif ordered[checkpoint.seq].hash != checkpoint.hash:
            findings.add(checkpoint.seq, Problem.FORGED, "not the entry access checkpointed")
        else:
            anchors.append(checkpoint.seq)
    vouched = _vouched(ordered, anchors, findings)
    for i in range(len(ordered)):
        if i not in vouched:
            findings.add(i, Problem.UNSIGNED, "no entry access signed, nor its checkpoint, vouches for it")
            break
    head = entries[-1].head if entries else None
    first = findings.first()
    if first is None:
        return Verdict(len(entries), head=head, checkpoint=checkpoint)
    return Verdict(len(entries), first[1], first[0], first[2], head, checkpoint)


def _in_place(entries: Sequence[AuditEntry], findings: _Findings) -> Sequence[AuditEntry]:
    """The entries up to the first one out of its place (each must be numbered by its position); the rest are not
    checked further — the first problem is there."""
    for i, entry in enumerate(entries):
        if entry.seq == i:
            continue
        if entry.seq < i or any(later.seq == i for later in entries[i + 1:]):
            findings.add(i, Problem.REORDERED, f"entry {entry.seq} stands where entry {i} belongs")
        else:
            findings.add(i, Problem.REMOVED, "missing from the chain")
        return entries[:i]
    return entries


def _vouched(chain: Sequence[AuditEntry], anchors: list[int], findings: _Findings) -> set[int]:
    """Every entry an anchor vouches for: the anchor, then down its `prev_hash` links each entry it links to. A link
    to an earlier entry than the one before vouches for that one only (those between are not vouched for); a link
    to nothing in the chain means the entry before was changed (reported; the walk goes on below it, so that the
    first problem named is that change, not the entries it cut off)."""
    position = {entry.hash: i for i, entry in enumerate(chain)}
    vouched: set[int] = set()
    for anchor in sorted(set(anchors), reverse=True):
        k = anchor
        while k not in vouched:
            vouched.add(k)
            link = chain[k].prev_hash
            if k > 0 and chain[k - 1].hash == link:
                k -= 1
            elif link == GENESIS:
                break  # entries below (if any) are linked past: none vouched for
            elif (j := position.get(link)) is not None and j < k - 1:
                k = j
            elif k > 0:  # the entry before is not the one `k` vouches for; below it, its own links are followed
                findings.add(k - 1, Problem.FORGED, f"entry {k} vouches for another entry before it")
                k -= 1  # (so the entries under a forged one are not reported in its stead)
            else:
                findings.add(0, Problem.FORGED, "it does not start a chain")
                break
    return vouched
