"""python -m infra run|up|down|status|env — the mesh on real Kafka and a real MongoDB-protocol server, no Docker.

run: infrastructure + every worker + a demo laboratory, until Ctrl-C; up: infrastructure only;
down: stop workers and infrastructure; status: what is running; env: export lines for the shell;
topics: create the project's topics on DSP_KAFKA_BOOTSTRAP (existing infrastructure, e.g. compose);
start-replica NAME: start one replica of a fleet (`make run REPLICAS=2`) again, e.g. `records-2` or `gateway`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from schemas.topics import all_topics

from . import fleet, mesh
from .local import LocalInfra, create_topics
from .procs import InfraError

# `topics` connects with these (services.kit.kafka_auth.options_from_env): the admin on a secured broker
KAFKA_VARIABLES = ("DSP_KAFKA_BOOTSTRAP", "DSP_KAFKA_SECURITY_PROTOCOL", "DSP_KAFKA_SASL_MECHANISM",
                   "DSP_KAFKA_USERNAME",
                   "DSP_KAFKA_PASSWORD")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    parser.add_argument("command", choices=["run", "up", "down", "status", "env", "topics", "start-replica"])
    parser.add_argument("name", nargs="?", help="start-replica: the replica, e.g. records-2 (replica 1: records)")
    args = parser.parse_args(argv)
    try:
        if args.command == "topics":  # existing infrastructure: no state folder, no cache, not even a home needed
            bootstrap = os.environ.get("DSP_KAFKA_BOOTSTRAP") or f"127.0.0.1:{LocalInfra.kafka_port}"
            from services.kit.kafka_auth import options_from_env  # KAFKA_VARIABLES: as the admin

            created = asyncio.run(create_topics(bootstrap, within_s=120, options=options_from_env(os.environ)))
            print(f"[infra] topics on {bootstrap}: created {len(created)}, all {len(all_topics())} present")
            return 0
        infra = LocalInfra()
        if args.command == "run":
            return mesh.run(infra)
        if args.command == "start-replica":
            service, _, number = (args.name or "").partition("-")
            if service not in fleet.REPLICATED or not (number or "1").isdigit():
                parser.error(f"start-replica: a replica's name, e.g. records-2, not {args.name!r}")
            pid = mesh.start_replica(infra, service, int(number or "1"),
                                     fleet.replica_ports(int(number or "1"), fleet.port_base()))
            print(f"[infra] {args.name}: " + (f"started (pid {pid})" if pid else "already running"))
            return 0
        if args.command == "up":
            timings = infra.up()
            print(f"[infra] up in {timings['total']:.1f}s (ferretdb {timings['ferretdb']:.1f}s, "
                  f"kafka + topics {timings['kafka']:.1f}s); state in {infra.state_dir}")
            for key, value in infra.env.items():
                print(f"[infra] {key}={value}")
        elif args.command == "down":
            stopped = mesh.stop_all(infra)
            print(f"[infra] stopped: {', '.join(stopped) or 'nothing was running'}")
        elif args.command == "status":
            for name, state in infra.status().items():
                print(f"{name}: {state}")
        else:
            for key, value in infra.env.items():
                print(f"export {key}={value}")
    except InfraError as exc:
        print(f"[infra] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
