"""``manage.py cachex <command>``: status, ring, slots, sentinel, stats, doctor.

Run from the shell, exits with the report's code (0 ok, 1 findings, 2 errors, 3 usage) so CI
and health checks can act on it; see docs/operations.md.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cachex.ops import cli
from cachex.ops.report import EXIT_USAGE


class Command(BaseCommand):
    help = "Look at cachex caches: " + ", ".join(cli.COMMAND_HELP)
    requires_system_checks: list[str] = []  # `doctor` runs the checks itself, and reports

    def add_arguments(self, parser: ArgumentParser) -> None:
        cli.add_command_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from argparse import Namespace

        ns = Namespace(**options)
        try:
            targets = cli.targets_for(ns)
        except cli.UsageError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        code = cli.emit(cli.run_command(ns, targets), targets, ns.json, self.stdout)  # type: ignore[arg-type]
        # From the shell the exit code is the answer (CI, health checks); from call_command
        # (an admin view, a test) the output is, and no SystemExit escapes into the caller.
        if code and getattr(self, "_called_from_command_line", False):
            sys.exit(code)
