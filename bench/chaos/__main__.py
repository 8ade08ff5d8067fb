"""python -m bench.chaos [--count 30000] [--rate 100] [--patients 2000] [--ferret-down 10] [--kafka-down 9]

An operator's bad day, on the project's own Kafka + FerretDB started on private ports (never the running mesh):
a realistic mix of lab results (10% redeliveries, 5% corrections, 2% cancellations, 1% malformed; the rest new
reports for --patients patients) is published at --rate per second to a records worker that is SIGKILLed twice
(and restarted at once, as a supervisor would), loses FerretDB for --ferret-down seconds and the broker for
about --kafka-down + 5 seconds. Then the stored reports, their versions, the events per (document, version) and the dead
letters are checked against what really reached the topic (see bench/chaos/scenario.py).

Prints one summary line, then `BENCH {json}` last; exits 0 only if nothing was lost, doubled or changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import tempfile
from pathlib import Path

from infra.local import LocalInfra
from infra.procs import free_port

from .scenario import say, scenario, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=30_000, help="lab results to publish")
    parser.add_argument("--rate", type=float, default=100.0, help="results per second")
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--ferret-down", type=float, default=10.0, help="seconds FerretDB is away (0: not stopped)")
    parser.add_argument("--kafka-down", type=float, default=9.0,
                        help="seconds from stopping the broker to starting it again (0: not stopped); its own "
                             "shutdown and start-up add about 5 s (9: the broker is away about 14 s)")
    parser.add_argument("--kills", type=int, default=2, choices=range(4), help="SIGKILLs of the records worker")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # this script's own clients during the outage
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout must still stop the servers started here
    log = Path(tempfile.gettempdir()) / "dsp-chaos-records.log"
    log.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="dsp-chaos-") as tmp:
        infra = LocalInfra(state_dir=Path(tmp), kafka_port=free_port(), controller_port=free_port(),
                           mongo_port=free_port())
        try:
            say(f"starting Kafka and FerretDB on private ports ({infra.kafka.bootstrap}, {infra.ferret.uri})")
            infra.up()
            figures = asyncio.run(scenario(infra, args.count, args.rate, args.patients, args.ferret_down,
                                           args.kafka_down, args.kills, args.seed, log))
        finally:
            infra.down()
    print(summary(figures))
    print("BENCH " + json.dumps(figures, default=str))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
