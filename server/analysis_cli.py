"""`cimtwin check project PROJECT_ID`: the planning checks as a JSON report for the records.

``server.cli`` calls :func:`add_check_commands` on its sub-command parser. Exit status:
0 every check passed (or nothing could be checked), 3 a limit is exceeded; errors leave
through ``server.cli.main`` (1, message on stderr).
"""
from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

EXIT_FAILED = 3


def cmd_check_project(args, services) -> int:
    """Run every check of a project and print (and optionally write) the JSON report."""
    from server.analysis import check_project  # numpy/shapely: only for this command
    report = check_project(services, args.project_id)
    report["checked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return EXIT_FAILED if report["pass"] is False else 0


def add_check_commands(sub: argparse._SubParsersAction) -> None:
    """Add `check project PROJECT_ID [--out FILE]` to the `cimtwin` parser."""
    check = sub.add_parser("check", help="planning checks of a project's BIM model")
    actions = check.add_subparsers(dest="check_what", required=True)
    p = actions.add_parser("project", help="height and floor-area checks of one project "
                           "against its planning limits (JSON report)")
    p.add_argument("project_id", help="the project's project_id in a projects layer")
    p.add_argument("--out", help="also write the report to this file")
    p.set_defaults(func=cmd_check_project, json=True)
