"""Where the worker's time went during a run: its `dsp_access_decision_seconds` histograms
(`services.access.api.timing`) between two `/metrics` scrapes, and its CPU time from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.access.api.timing import PHASES


def split(before: str, after: str) -> dict[str, dict[str, float]]:
    """Per phase of `dsp_access_decision_seconds` (services.access.api.timing), between two /metrics scrapes: the
    mean and the p99 (the upper bound of the histogram bucket holding it), in ms."""
    def read(text: str) -> dict[tuple[str, str, str], float]:
        return {(s.name, s.labels.get("phase", ""), s.labels.get("le", "")): s.value
                for family in text_string_to_metric_families(text) if family.name == "dsp_access_decision_seconds"
                for s in family.samples}

    old, new = read(before), read(after)
    out = {}
    for phase in PHASES:
        count = new.get(("dsp_access_decision_seconds_count", phase, ""), 0) - \
            old.get(("dsp_access_decision_seconds_count", phase, ""), 0)
        if not count:
            continue
        total = new[("dsp_access_decision_seconds_sum", phase, "")] - old.get(("dsp_access_decision_seconds_sum",
                                                                               phase, ""), 0)
        buckets = sorted((float(le), v - old.get((n, p, le), 0)) for (n, p, le), v in new.items()
                         if n == "dsp_access_decision_seconds_bucket" and p == phase)
        p99 = next(le for le, c in buckets if c >= 0.99 * count)
        out[phase] = {"mean": round(total / count * 1000, 3), "p99_le": round(p99 * 1000, 3)}
    return out


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
