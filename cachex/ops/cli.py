"""Arguments and output shared by ``manage.py cachex`` and ``python -m cachex``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from . import commands
from .render import render
from .report import EXIT_OK, EXIT_USAGE, Report
from .target import Target, django_targets, target_from_location

COMMAND_HELP = {
    "status": "every node: role, address, version, ping, memory, clients, keys, breaker",
    "ring": "key spread per shard from a sample, and what adding/removing a node moves",
    "slots": "Cluster slot coverage and migrations in progress",
    "sentinel": "Sentinel: primary, replicas, quorum, failover in progress",
    "stats": "this process's counters (policy events, circuits, metrics when on)",
    "doctor": "every check plus live probes, each finding with its fix",
}


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2; 2 means "unreachable" here
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_command_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("command", choices=list(COMMAND_HELP),
                   help="; ".join(f"{k}: {v}" for k, v in COMMAND_HELP.items()))
    p.add_argument("--alias", action="append", default=[],
                   help="a CACHES alias (repeatable); default: every cachex alias")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--timeout", type=float, default=1.0,
                   help="seconds to wait for each node (default 1)")
    p.add_argument("--sample", type=int, default=commands.DEFAULT_SAMPLE,
                   help="ring: keys to sample (default 10000)")
    p.add_argument("--add", metavar="NODE", help="ring: the node to model adding "
                   "(host:port or a name; default a hypothetical 'new-node:6379')")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m cachex",
                description="Look at a cachex cache: status, ring, slots, sentinel, stats, "
                            "doctor. Reads CACHES from a Django settings module "
                            "(--settings or DJANGO_SETTINGS_MODULE), or takes LOCATION and "
                            "OPTIONS from --location/--options.",
                epilog="exit codes: 0 ok, 1 findings (warnings, degraded), 2 errors "
                       "(unreachable, misconfigured), 3 usage")
    add_command_arguments(p)
    p.add_argument("--settings", help="Django settings module (else DJANGO_SETTINGS_MODULE)")
    p.add_argument("--location", help="LOCATION, e.g. redis://127.0.0.1:6379/0 or "
                   "'redis+cluster://h1:7000,h2:7001'")
    p.add_argument("--options", default="{}", help="OPTIONS as JSON")
    p.add_argument("--key-prefix", default="", help="KEY_PREFIX (for key counts)")
    p.add_argument("--key-version", type=int, default=1, help="VERSION (default 1)")
    p.add_argument("--driver", choices=["redis", "valkey"], default="redis")
    return p


def targets_for(args: argparse.Namespace) -> list[Target]:
    if getattr(args, "location", None):
        try:
            options = json.loads(args.options)
        except ValueError as exc:
            raise UsageError(f"--options is not JSON: {exc}") from None
        if not isinstance(options, dict):
            raise UsageError("--options must be a JSON object")
        return [target_from_location(args.location, options, driver=args.driver,
                                     key_prefix=args.key_prefix, version=args.key_version)]
    targets, unknown = django_targets(list(args.alias))
    if unknown:
        raise UsageError(f"not a cachex alias in CACHES: {', '.join(unknown)}")
    if not targets:
        raise UsageError("no cachex alias in CACHES (BACKEND cachex.backends.redis.RedisCache "
                         "or cachex.backends.valkey.ValkeyCache)")
    return targets


def run_command(args: argparse.Namespace, targets: list[Target]) -> list[Report]:
    out = []
    for target in targets:
        kw: dict[str, Any] = {}
        if args.command != "stats":
            kw["timeout"] = args.timeout
        if args.command == "ring":
            kw.update(sample=args.sample, add=args.add)
        if args.command == "doctor":
            kw["others"] = [t for t in targets if t is not target]
        out.append(commands.COMMANDS[args.command](target, **kw))
    return out


def emit(reports: list[Report], targets: list[Target], as_json: bool, out: IO[str]) -> int:
    code = max((r.exit_code for r in reports), default=EXIT_OK)
    if as_json:
        text = json.dumps({"exit_code": code, "reports": [r.as_dict() for r in reports]},
                          indent=2, default=str)
    else:
        text = "\n\n".join(render(r) for r in reports)
    out.write(scrub(text, targets) + "\n")
    return code


def scrub(text: str, targets: list[Target]) -> str:
    """Last line of defence: no configured password appears in the output, whatever path
    (an error message, a URL) carried it there."""
    for secret in secrets_of(targets):
        text = text.replace(secret, "***")
    return text


def secrets_of(targets: list[Target]) -> list[str]:
    found: set[str] = set()
    for t in targets:
        if t.settings is not None:
            found.update(e.password for e in t.settings.endpoints if e.password)
            if t.settings.sentinel_password:
                found.add(t.settings.sentinel_password)
        options = t.options if isinstance(t.options, dict) else {}
        sentinel = options.get("sentinel")
        for holder in (options, sentinel if isinstance(sentinel, dict) else {}):
            if isinstance(holder.get("password"), str):
                found.add(holder["password"])
    return sorted((s for s in found if len(s) >= 3), key=len, reverse=True)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    if not args.location:
        module = args.settings or os.environ.get("DJANGO_SETTINGS_MODULE")
        if not module:
            sys.stderr.write("python -m cachex: give --location (and --options), or a Django "
                             "settings module with --settings / DJANGO_SETTINGS_MODULE\n")
            return EXIT_USAGE
        os.environ["DJANGO_SETTINGS_MODULE"] = module
        import django

        django.setup()
    try:
        targets = targets_for(args)
    except UsageError as exc:
        sys.stderr.write(f"python -m cachex: {exc}\n")
        return EXIT_USAGE
    return emit(run_command(args, targets), targets, args.json, out)
