"""The `crmsync` command: the shell around the pure core.

    crmsync plan --crm F --outlook F [--baseline F] [--settings F] [--user EMAIL]
                 [--now ISO] [--format text|json] [--fail-on-data-loss]
                 [--crm-format crmsync|dataverse] [--outlook-format crmsync|graph]
                 [--emit graph,dataverse] [--todo-list ID]
    crmsync plan --example
    crmsync apply PLAN --crm F --outlook F [--baseline F] --out DIR

Exit codes: 0 done; 1 bad input (every problem printed with its path, never a
traceback); 2 bad usage; 3 `--fail-on-data-loss` and the plan reports data
loss; 70 an internal error (set CRMSYNC_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

from crmsync.adapters import crm_snapshot_from_dataverse, read_graph
from crmsync.adapters.requests import Request, Service, requests_for
from crmsync.apply import apply
from crmsync.convert import dumps, loads, parse_json, structure
from crmsync.errors import CrmsyncError, InvalidInput, StalePlan
from crmsync.plan import Plan
from crmsync.planning import plan as make_plan
from crmsync.records import Baseline, CrmSnapshot, Domain, OutlookSnapshot
from crmsync.settings import Settings

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_DATA_LOSS, EXIT_INTERNAL = 0, 1, 2, 3, 70

T = TypeVar("T")


class _Failure(Exception):
    """A failure to report to the user: lines to print and an exit code."""

    def __init__(self, lines: Sequence[str], code: int = EXIT_INVALID) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.code = code


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _Failure([f"crmsync: cannot read {path}: {exc.strerror or exc}"]) from None


def _invalid(source: str, exc: InvalidInput) -> _Failure:
    return _Failure([f"crmsync: {source} is not valid:", *(f"  {line}" for line in exc.lines())])


def _load(path: str, cls: type[T]) -> T:
    try:
        return loads(_read_bytes(path), cls)
    except InvalidInput as exc:
        raise _invalid(path, exc) from None


def _load_foreign(path: str, read: Callable[[Any], T]) -> T:
    try:
        return read(parse_json(_read_bytes(path)))
    except InvalidInput as exc:
        raise _invalid(path, exc) from None


def _services(text: str) -> tuple[Service, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in ("graph", "dataverse")]
    if unknown or not names:
        raise _Failure(
            [f"crmsync plan: --emit takes graph, dataverse or both, not {text!r}"], EXIT_USAGE
        )
    return tuple(cast(Service, name) for name in names)


def _write_requests(requests: Sequence[Request], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps([r.to_json() for r in requests], indent=2) + "\n")
        return
    for request in requests:
        out.write(f"{request.method} {request.url}\n")
        out.writelines(f"{name}: {value}\n" for name, value in request.headers.items())
        out.write(f"# id: {request.id}\n")
        out.writelines(f"# after: {after}\n" for after in request.depends_on)
        out.writelines(f"# fill {fill.describe()}\n" for fill in request.fills)
        if request.note:
            out.write(f"# {request.note}\n")
        if request.body is not None:
            out.write(json.dumps(request.body, indent=2, ensure_ascii=False) + "\n")
        out.write("\n")


def _now(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)  # the shell may read the clock; the core never does
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _Failure([f"crmsync: --now {text!r} is not an ISO 8601 date-time"]) from None
    if moment.utcoffset() is None:
        raise _Failure([f"crmsync: --now {text!r} has no UTC offset (add Z or +01:00)"])
    return moment


def _example() -> dict[str, Any]:
    folder = resources.files("crmsync") / "examples"
    parts = {}
    for name in ("crm", "outlook", "baseline", "settings", "meta"):
        parts[name] = (folder / f"{name}.json").read_text(encoding="utf-8")
    return parts


def _plan_command(args: argparse.Namespace, out: TextIO) -> int:
    services = _services(args.emit) if args.emit is not None else None
    graph_ids: Mapping[tuple[Domain, str], str] = {}
    if args.example:
        example = _example()
        meta = json.loads(example["meta"])
        crm = structure(json.loads(example["crm"]), CrmSnapshot)
        outlook = structure(json.loads(example["outlook"]), OutlookSnapshot)
        baseline: Baseline | None = structure(json.loads(example["baseline"]), Baseline)
        settings = structure(json.loads(example["settings"]), Settings)
        user, now = meta["user"], _now(meta["now"])
    else:
        if not args.crm or not args.outlook:
            raise _Failure(["crmsync plan: give --crm and --outlook, or --example"], EXIT_USAGE)
        if args.crm_format == "dataverse":
            crm = _load_foreign(args.crm, crm_snapshot_from_dataverse)
        else:
            crm = _load(args.crm, CrmSnapshot)
        if args.outlook_format == "graph":
            read = _load_foreign(args.outlook, read_graph)
            outlook, graph_ids = read.snapshot, read.ids
        else:
            outlook = _load(args.outlook, OutlookSnapshot)
        baseline = _load(args.baseline, Baseline) if args.baseline else None
        settings = _load(args.settings, Settings) if args.settings else Settings()
        user, now = args.user, _now(args.now)
    planned = make_plan(crm, outlook, settings, baseline, user=user, now=now)
    if services is not None:
        found = requests_for(
            planned,
            crm,
            outlook,
            services=services,
            todo_list=args.todo_list,
            graph_ids=graph_ids,
        )
        _write_requests(found, args.format, out)
    elif args.format == "json":
        out.write(dumps(planned) + "\n")
    else:
        out.write(planned.render() + "\n")
    if args.fail_on_data_loss and planned.has_data_loss:
        return EXIT_DATA_LOSS
    return EXIT_OK


def _apply_command(args: argparse.Namespace, out: TextIO) -> int:
    planned = _load(args.plan, Plan)
    crm = _load(args.crm, CrmSnapshot)
    outlook = _load(args.outlook, OutlookSnapshot)
    baseline = _load(args.baseline, Baseline) if args.baseline else None
    try:
        synced = apply(planned, crm, outlook, baseline)
    except StalePlan as exc:
        raise _Failure([f"crmsync: {exc}"]) from None
    folder = Path(args.out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in (
            ("crm", synced.crm),
            ("outlook", synced.outlook),
            ("baseline", synced.baseline),
        ):
            (folder / f"{name}.json").write_text(dumps(value) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _Failure([f"crmsync: cannot write to {folder}: {exc.strerror or exc}"]) from None
    out.write(
        f"applied {len(planned.ops)} op(s); wrote crm.json, outlook.json, baseline.json "
        f"to {folder}\n"
    )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmsync",
        description="Plan how contacts, appointments and tasks sync between Dynamics 365 "
        "and Outlook, and apply plans to JSON snapshots.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan a sync and print the plan")
    plan.add_argument("--example", action="store_true", help="plan the bundled example")
    plan.add_argument("--crm", metavar="FILE", help="what the CRM holds now")
    plan.add_argument("--outlook", metavar="FILE", help="what the mailbox holds now")
    plan.add_argument("--baseline", metavar="FILE", help="both sides after the last sync")
    plan.add_argument("--settings", metavar="FILE", help="the synchronization settings")
    plan.add_argument("--user", default="", metavar="EMAIL", help="the syncing user")
    plan.add_argument("--now", metavar="ISO", help="plan for this moment (default: now)")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.add_argument(
        "--crm-format",
        choices=("crmsync", "dataverse"),
        default="crmsync",
        help="--crm holds a crmsync snapshot (default) or Dataverse Web API collections",
    )
    plan.add_argument(
        "--outlook-format",
        choices=("crmsync", "graph"),
        default="crmsync",
        help="--outlook holds a crmsync snapshot (default) or Microsoft Graph collections",
    )
    plan.add_argument(
        "--emit",
        metavar="SERVICES",
        help="print the HTTP requests that carry out the plan instead of the plan: "
        "graph, dataverse or graph,dataverse",
    )
    plan.add_argument(
        "--todo-list",
        default="{todoTaskListId}",
        metavar="ID",
        help="the To Do list id used in task URLs of --emit graph",
    )
    plan.add_argument(
        "--fail-on-data-loss", action="store_true", help="exit 3 when the plan reports data loss"
    )
    run = commands.add_parser("apply", help="apply a plan to JSON snapshots")
    run.add_argument("plan", metavar="PLAN", help="the plan, as `crmsync plan --format json`")
    run.add_argument("--crm", metavar="FILE", required=True)
    run.add_argument("--outlook", metavar="FILE", required=True)
    run.add_argument("--baseline", metavar="FILE")
    run.add_argument("--out", metavar="DIR", required=True, help="where to write the results")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs the `crmsync` command.

    Args:
        argv: the arguments (default: the process's).
        out: where to write results (default: standard output).

    Returns:
        The exit code.
    """
    out = out or sys.stdout
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if args.command == "plan":
            return _plan_command(args, out)
        return _apply_command(args, out)
    except _Failure as failure:
        print("\n".join(failure.lines), file=sys.stderr)
        return failure.code
    except CrmsyncError as exc:
        print(f"crmsync: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # the reader left early (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("CRMSYNC_DEBUG"):
            raise
        print(
            f"crmsync: internal error: {type(exc).__name__}: {exc} "
            "(set CRMSYNC_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
