"""``python -m cachex.testing single|servers N|cluster|sentinel``: start a lab, print its URLs,
keep it up until Ctrl-C (or SIGTERM). For the demo, manual experiments and other tools;
``--json`` prints one machine-readable line instead.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import FrameType
from typing import Any

from cachex.testing.clusters import Cluster, cluster
from cachex.testing.errors import LabError
from cachex.testing.lab import server, servers
from cachex.testing.node import Server
from cachex.testing.sentinels import SentinelSet, sentinel


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _interrupt)
    try:
        with _lab(args) as lab:
            details = _describe(args.topology, lab)
            if args.json:
                print(json.dumps(details), flush=True)
            else:
                _print_human(details)
            while True:
                time.sleep(3600)
    except LabError as exc:
        print(f"cachex.testing: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cachex.testing", description="Run a Redis/Valkey lab until Ctrl-C."
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--password", default=None, help="requirepass of the data nodes")
    parser.add_argument(
        "--flavor",
        choices=("redis", "valkey"),
        default=None,
        help="server to run (default: $CACHEX_FLAVOR, else redis if installed, else valkey)",
    )
    sub = parser.add_subparsers(dest="topology", required=True)
    sub.add_parser("single", help="one server")
    many = sub.add_parser("servers", help="N independent servers (shards)")
    many.add_argument("n", type=int, nargs="?", default=3)
    clustered = sub.add_parser("cluster", help="a cluster")
    clustered.add_argument("--primaries", type=int, default=3)
    clustered.add_argument("--replicas", type=int, default=1, help="replicas per primary")
    watched = sub.add_parser("sentinel", help="primary + replicas + sentinels")
    watched.add_argument("--service", default="mymaster")
    watched.add_argument("--replicas", type=int, default=1)
    watched.add_argument("--sentinels", type=int, default=3)
    watched.add_argument("--sentinel-password", default=None)
    return parser


def _lab(args: argparse.Namespace) -> AbstractContextManager[Any]:
    if args.topology == "single":
        return server(password=args.password, flavor=args.flavor)
    if args.topology == "servers":
        return servers(args.n, password=args.password, flavor=args.flavor)
    if args.topology == "cluster":
        if args.password is not None:
            raise SystemExit("cluster labs take no --password")
        return cluster(args.primaries, args.replicas, flavor=args.flavor)
    return sentinel(
        args.service,
        replicas=args.replicas,
        sentinels=args.sentinels,
        password=args.password,
        sentinel_password=args.sentinel_password,
        flavor=args.flavor,
    )


def _describe(topology: str, lab: Server | list[Server] | Cluster | SentinelSet) -> dict[str, Any]:
    def node(n: Server) -> dict[str, Any]:
        return {"name": n.name, "address": n.address, "pid": n.pid, "log": str(n.log_path)}

    if isinstance(lab, Server):
        return {"topology": topology, "url": lab.url, "nodes": [node(lab)], "dir": str(lab.dir)}
    if isinstance(lab, list):
        urls = [n.url for n in lab]
        return {
            "topology": topology,
            "url": ",".join(urls),
            "urls": urls,
            "nodes": [node(n) for n in lab],
            "dir": str(lab[0].dir.parent),
        }
    if isinstance(lab, Cluster):
        return {
            "topology": topology,
            "url": lab.url,
            "primaries": [n.address for n in lab.primaries()],
            "replicas": [n.address for n in lab.replicas()],
            "nodes": [node(n) for n in lab.nodes],
            "dir": str(lab.nodes[0].dir.parent),
        }
    return {
        "topology": topology,
        "url": lab.url,
        "service": lab.service,
        "primary": lab.primary_node.address,
        "replicas": [n.address for n in lab.replica_nodes],
        "sentinels": [node(n) for n in lab.sentinels],
        "nodes": [node(n) for n in lab.nodes],
        "dir": str(lab.nodes[0].dir.parent),
    }


def _print_human(details: dict[str, Any]) -> None:
    print(f"cachex lab: {details['topology']}")
    for url in details.get("urls", [details["url"]]):
        print(f"  url       {url}")
    for key in ("service", "primary", "primaries", "replicas"):
        if key in details:
            value = details[key]
            print(f"  {key:<9} {', '.join(value) if isinstance(value, list) else value}")
    for entry in details.get("sentinels", []) + details["nodes"]:
        print(f"  {entry['name']:<9} {entry['address']}  pid {entry['pid']}  log {entry['log']}")
    print("Ctrl-C to stop", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
