"""Where the worker's time went during a run: its `dsp_access_decision_seconds` histograms
(`services.access.api.timing`) between two `/metrics` scrapes, and its CPU time from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.access.api.timing import PHASES


def _histograms(text: str, name: str) -> dict[tuple[str, str, str], float]:
    return {(s.name, s.labels.get("phase", ""), s.labels.get("le", "")): s.value
            for family in text_string_to_metric_families(text) if family.name == name for s in family.samples}


def _summary(old: dict[tuple[str, str, str], float], new: dict[tuple[str, str, str], float], name: str,
             phase: str = "", scale: float = 1000) -> dict[str, float] | None:
    """Mean and p99 (the upper bound of the bucket holding it) of one histogram between two scrapes, times `scale`."""
    count = new.get((f"{name}_count", phase, ""), 0) - old.get((f"{name}_count", phase, ""), 0)
    if not count:
        return None
    total = new[(f"{name}_sum", phase, "")] - old.get((f"{name}_sum", phase, ""), 0)
    buckets = sorted((float(le), v - old.get((n, p, le), 0)) for (n, p, le), v in new.items()
                     if n == f"{name}_bucket" and p == phase)
    p99 = next(le for le, c in buckets if c >= 0.99 * count)
    return {"mean": round(total / count * scale, 3), "p99_le": round(p99 * scale, 3)}


def split(before: str, after: str) -> dict[str, dict[str, float]]:
    """Per phase of `dsp_access_decision_seconds` (services.access.api.timing), between two /metrics scrapes: the
    mean and the p99 (the upper bound of the histogram bucket holding it), in ms. Then where the audit wait went
    (`services.access.store.audit_log.CommitTiming`): `audit_queue` (an entry waiting for its batch's insert),
    `audit_commit` (one batch's insert) in ms, and `audit_batch` (entries per commit)."""
    name = "dsp_access_decision_seconds"
    old, new = _histograms(before, name), _histograms(after, name)
    out = {}
    for phase in PHASES:
        found = _summary(old, new, name, phase)
        if found is not None:
            out[phase] = found
    for key, metric, scale in (("audit_queue", "dsp_access_audit_queue_seconds", 1000),
                               ("audit_commit", "dsp_access_audit_commit_seconds", 1000),
                               ("audit_batch", "dsp_access_audit_commit_entries", 1)):
        old, new = _histograms(before, metric), _histograms(after, metric)
        found = _summary(old, new, metric, scale=scale)
        if found is not None:
            out[key] = found
    return out


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
