"""The chaos scenario, small (`make chaos` runs it at 30,000 results): 2,000 lab results with redeliveries,
corrections, cancellations and malformed ones, while the records worker is SIGKILLed twice and FerretDB and
the broker are restarted — nothing lost, doubled or changed (reports, versions, events, dead letters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import ROOT


def test_chaos_small_run_loses_doubles_and_changes_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DSP_KAFKA_BOOTSTRAP", "DSP_MONGO_URI")}
    done = subprocess.run([sys.executable, "-m", "bench.chaos", "--count", "2000", "--rate", "50",
                           "--ferret-down", "5", "--kafka-down", "6"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=420, check=False)
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("BENCH "), done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(lines[-1].removeprefix("BENCH "))
    assert done.returncode == 0 and figures["ok"], lines[-2] if len(lines) > 1 else done.stderr[-3000:]
    assert figures["reports_stored"] == figures["reports"] > 1500
    assert figures["lost_versions"] == figures["doubled_versions"] == figures["changed_documents"] == 0
    assert figures["event_ids_changed"] == figures["versions_with_two_event_ids"] == figures["events_lost"] == 0
    assert figures["dead_letters"] == figures["malformed"] > 0 and figures["dead_letters_wrong"] == 0
    assert figures["log_kafka_unreachable"] == figures["log_kafka_reachable"] == 1
    assert figures["log_lines_aiokafka_kafka_outage"] == 0
