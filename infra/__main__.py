"""python -m infra up|down|status|env — the mesh's real Kafka broker and MongoDB-protocol server, no Docker."""

from __future__ import annotations

import argparse
import sys

from .local import LocalInfra
from .procs import InfraError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    infra = LocalInfra()
    try:
        if args.command == "up":
            timings = infra.up()
            print(f"[infra] up in {timings['total']:.1f}s (ferretdb {timings['ferretdb']:.1f}s, "
                  f"kafka + topics {timings['kafka']:.1f}s); state in {infra.state_dir}")
            for key, value in infra.env.items():
                print(f"[infra] {key}={value}")
        elif args.command == "down":
            stopped = infra.down()
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
