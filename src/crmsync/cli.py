"""The `crmsync` command: the shell around the pure core.

    crmsync plan --crm F [F ...] --outlook F [F ...] [--baseline F] [--settings F]
                 [--user EMAIL] [--now ISO] [--format text|json|html] [-o FILE] [--summary]
                 [--quiet] [--fail-on-data-loss]
                 [--crm-format crmsync|dataverse] [--outlook-format crmsync|graph]
                 [--partial [crm|outlook|both]] [--emit graph,dataverse] [--todo-list ID]
    crmsync plan --example
    crmsync apply PLAN --crm F --outlook F [--baseline F] --out DIR
    crmsync explain KEY|NAME|EMAIL|SUBJECT --crm F --outlook F [--baseline F] [--settings F] ...
    crmsync explain KEY --example
    crmsync --version
    crmsync convert --from graph|dataverse F [F ...] [--partial] [--out F] [--links F]
                    [--known-ids F] [--baseline F]

Several files of a service format are the pages of one read, in order (a
delta round's pages with --partial).

Exit codes: 0 done; 1 bad input (every problem printed with its path, never a
traceback); 2 bad usage; 3 `--fail-on-data-loss` and the plan reports data
loss; 70 an internal error (set CRMSYNC_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

import attrs

from crmsync.adapters import read_dataverse, read_graph
from crmsync.adapters.requests import Request, Service, requests_for
from crmsync.apply import apply
from crmsync.convert import dumps, loads, parse_json, structure
from crmsync.errors import CrmsyncError, InvalidInput, StalePlan
from crmsync.explain import Candidate, explain, find
from crmsync.files import write_all, write_file, write_in_order
from crmsync.plan import Plan
from crmsync.planning import plan as make_plan
from crmsync.progress import Progress
from crmsync.records import Baseline, CrmSnapshot, Domain, OutlookSnapshot
from crmsync.report import html as html_report
from crmsync.report import settings_text, summary_text
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


MAX_PROBLEM_LINES = 120
"""Problem lines printed for one input at most; InvalidInput itself keeps at most 100."""


def _invalid(source: str, exc: InvalidInput) -> _Failure:
    lines = exc.lines()
    if len(lines) > MAX_PROBLEM_LINES:
        more = len(lines) - MAX_PROBLEM_LINES
        lines = [*lines[:MAX_PROBLEM_LINES], f"... and {more:,} more problem(s)"]
    return _Failure([f"crmsync: {source} is not valid:", *(f"  {line}" for line in lines)])


def _load(path: str, cls: type[T]) -> T:
    try:
        return loads(_read_bytes(path), cls)
    except InvalidInput as exc:
        raise _invalid(path, exc) from None


_DATAVERSE_MARKS = frozenset({"activitymimeattachments", "contactid", "activityid", "firstname"})
_GRAPH_MARKS = frozenset({"events", "givenName", "emailAddresses", "iCalUId", "displayName"})


def _service_format(data: Any) -> str | None:
    """`dataverse` or `graph` when a file is plainly a service's JSON, not crmsync's."""
    if not isinstance(data, dict):
        return None
    context = str(data.get("@odata.context", ""))
    if "/api/data/" in context:
        return "dataverse"
    if "graph.microsoft.com" in context:
        return "graph"
    names = set(data)
    for value in data.values():
        rows = value.get("value") if isinstance(value, dict) else value
        if isinstance(rows, list):
            names.update(k for row in rows[:5] if isinstance(row, dict) for k in row)
            context += str(value.get("@odata.context", "")) if isinstance(value, dict) else ""
    if names & _DATAVERSE_MARKS or "/api/data/" in context:
        return "dataverse"
    if names & _GRAPH_MARKS or "graph.microsoft.com" in context:
        return "graph"
    return None


def _load_snapshot(path: str, cls: type[T]) -> T:
    """A crmsync snapshot; a file that is plainly a service's JSON gets a hint on the option."""
    try:
        return _load(path, cls)
    except _Failure as failure:
        try:
            # parse_json, not json.loads: it refuses the nesting that would recurse too deep.
            found = _service_format(parse_json(_read_bytes(path)))
        except (InvalidInput, _Failure):
            found = None
        if found == "dataverse":
            failure.lines.append(
                f"hint: {path} looks like Dataverse Web API data: add --crm-format dataverse "
                "(a Dataverse file goes to --crm)"
            )
        elif found == "graph":
            failure.lines.append(
                f"hint: {path} looks like Microsoft Graph data: add --outlook-format graph "
                "(a Graph file goes to --outlook)"
            )
        raise


def _load_foreign(paths: Sequence[str], read: Callable[..., T], **options: Any) -> T:
    """Reads the pages of one service read, in order."""
    pages = [parse_json_file(path) for path in paths]
    try:
        return read(*pages, **options)
    except InvalidInput as exc:
        where = paths[0] if len(paths) == 1 else ", ".join(paths)
        raise _invalid(where, exc) from None


def parse_json_file(path: str) -> Any:
    try:
        return parse_json(_read_bytes(path))
    except InvalidInput as exc:
        raise _invalid(path, exc) from None


def _one(paths: Sequence[str], option: str) -> str:
    if len(paths) != 1:
        raise _Failure(
            [f"crmsync plan: {option} takes one crmsync file (several files are service pages)"],
            EXIT_USAGE,
        )
    return paths[0]


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
    if args.summary and (args.format == "html" or args.emit is not None):
        raise _Failure(
            ["crmsync plan: --summary prints text or json, not html or --emit"], EXIT_USAGE
        )
    files = [args.crm, args.outlook, args.baseline, args.settings]
    steps = 0 if args.example else sum(1 for f in files if f)
    stderr = None if args.quiet else sys.stderr
    with Progress(stderr, steps + 2) as progress:
        planned, text = _plan_and_render(args, progress)
    if args.output:
        try:
            write_file(Path(args.output), text.encode("utf-8"))
        except OSError as exc:
            raise _Failure(
                [f"crmsync: cannot write {args.output}: {exc.strerror or exc}"]
            ) from None
    elif not args.quiet:
        out.write(text)
    if args.fail_on_data_loss and planned.has_data_loss:
        return EXIT_DATA_LOSS
    return EXIT_OK


@attrs.frozen
class _Inputs:
    """What `plan` and `explain` read: both sides, the baseline, settings, user, time."""

    crm: CrmSnapshot
    outlook: OutlookSnapshot
    baseline: Baseline | None
    settings: Settings
    user: str
    now: dt.datetime
    graph_ids: Mapping[tuple[Domain, str], str]


def _read_inputs(args: argparse.Namespace, progress: Progress) -> _Inputs:
    """Reads the inputs of `plan` or `explain` (the example, or the files), step by step."""
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
            raise _Failure(
                [f"crmsync {args.command}: give --crm and --outlook, or --example"], EXIT_USAGE
            )
        partial = {"crm", "outlook"} if args.partial == "both" else {args.partial}
        progress.step(f"reading {' '.join(args.crm)}")
        if args.crm_format == "dataverse":
            crm = _load_foreign(args.crm, read_dataverse, partial="crm" in partial).snapshot
        else:
            crm = _load_snapshot(_one(args.crm, "--crm"), CrmSnapshot)
        if args.baseline:
            progress.step(f"reading {args.baseline}")
        baseline = _load(args.baseline, Baseline) if args.baseline else None
        progress.step(f"reading {' '.join(args.outlook)}")
        if args.outlook_format == "graph":
            read = _load_foreign(
                args.outlook,
                read_graph,
                partial="outlook" in partial,
                known_ids=_known_ids(args.known_ids),
                previous=baseline.outlook if baseline is not None else None,
            )
            outlook, graph_ids = read.snapshot, read.ids
        else:
            outlook = _load_snapshot(_one(args.outlook, "--outlook"), OutlookSnapshot)
        if args.settings:
            progress.step(f"reading {args.settings}")
        settings = _load(args.settings, Settings) if args.settings else Settings()
        user, now = args.user, _now(args.now)
    return _Inputs(crm, outlook, baseline, settings, user, now, graph_ids)


def _plan_and_render(args: argparse.Namespace, progress: Progress) -> tuple[Plan, str]:
    """Reads the inputs, plans and renders, telling `progress` at each step."""
    services = _services(args.emit) if args.emit is not None else None
    inputs = _read_inputs(args, progress)
    crm, outlook, baseline = inputs.crm, inputs.outlook, inputs.baseline
    graph_ids = inputs.graph_ids
    progress.step("planning")
    planned = make_plan(crm, outlook, inputs.settings, baseline, user=inputs.user, now=inputs.now)
    progress.step("writing")
    out = io.StringIO()
    if services is not None:
        found = requests_for(
            planned,
            crm,
            outlook,
            services=services,
            todo_list=args.todo_list,
            graph_ids=graph_ids,
            baseline=baseline,
        )
        _write_requests(found, args.format, out)
    elif args.summary:
        json_format = args.format == "json"
        out.write(summary_text(planned, json_format=json_format, baseline=baseline) + "\n")
    elif args.format == "json":
        out.write(dumps(planned) + "\n")
    elif args.format == "html":
        out.write(html_report(planned, baseline=baseline, crm=crm, outlook=outlook))
    else:
        # An administrator previewing new settings reads what changed before what it does
        # (without a baseline there is nothing to compare, and the plan says it is a first sync).
        if baseline is not None:
            out.write(settings_text(planned, baseline) + "\n\n")
        out.write(planned.render() + "\n")
    return planned, out.getvalue()


def _explain_command(args: argparse.Namespace, out: TextIO) -> int:
    """Plans as `crmsync plan` does, from the same inputs, then explains one record."""
    inputs = _read_inputs(args, Progress(None, 1))
    crm, outlook, baseline = inputs.crm, inputs.outlook, inputs.baseline
    planned = make_plan(crm, outlook, inputs.settings, baseline, user=inputs.user, now=inputs.now)
    domain = Domain(args.domain) if args.domain else None
    found = explain(planned, args.key, crm=crm, outlook=outlook, baseline=baseline, domain=domain)
    if not found:
        # Not a key: an administrator knows people by name and meetings by subject.
        named = find(planned, args.key, crm=crm, outlook=outlook, baseline=baseline, domain=domain)
        if len(named.matches) > 1:
            raise _Failure(
                [
                    f"crmsync explain: {args.key!r} names {len(named.matches)} records; "
                    "give one's key (or --domain):",
                    *(_candidate_line(c) for c in named.matches),
                ]
            )
        if not named.matches:
            lines = [
                f"crmsync explain: no record {args.key!r} in the plan or the inputs "
                "(by key, name, e-mail address or subject)"
            ]
            if named.closest:
                lines.append("the closest:")
                lines.extend(_candidate_line(c) for c in named.closest)
            raise _Failure(lines)
        (match,) = named.matches
        found = explain(
            planned, match.key, crm=crm, outlook=outlook, baseline=baseline, domain=match.domain
        )
    out.write("\n\n".join(e.render() for e in found) + "\n")
    return EXIT_OK


def _candidate_line(candidate: Candidate) -> str:
    emails = f" <{', '.join(candidate.emails)}>" if candidate.emails else ""
    return f"  {candidate.domain.value} {candidate.key}  {candidate.name}{emails}"


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
    files = {
        f"{name}.json": (dumps(value) + "\n").encode("utf-8")
        for name, value in (
            ("crm", synced.crm),
            ("outlook", synced.outlook),
            ("baseline", synced.baseline),
        )
    }
    try:
        write_all(folder, files)
    except OSError as exc:
        raise _Failure(
            [
                f"crmsync: cannot write to {folder}: {exc.strerror or exc}; "
                "nothing was written (the folder is as it was)"
            ]
        ) from None
    out.write(
        f"applied {len(planned.ops)} op(s); wrote crm.json, outlook.json, baseline.json "
        f"to {folder}\n"
    )
    return EXIT_OK


def _version() -> str:
    try:
        return metadata.version("crmsync")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _convert_command(args: argparse.Namespace, out: TextIO) -> int:
    value: Any
    if args.source == "graph":
        known = _known_ids(args.known_ids)
        baseline = _load(args.baseline, Baseline) if args.baseline else None
        read = _load_foreign(
            args.files,
            read_graph,
            partial=args.partial,
            known_ids=known,
            previous=baseline.outlook if baseline is not None else None,
        )
        value, links = read.snapshot, _links_json(read.delta_links, read.next_links)
        links["graph_ids"] = [[d.value, k, i] for (d, k), i in sorted(read.ids.items())]
    else:
        found = _load_foreign(args.files, read_dataverse, partial=args.partial)
        value, links = found.snapshot, _links_json(found.delta_links, found.next_links)
    text = dumps(value) + "\n"
    # The snapshot before the links that say which changes it holds: if it is not
    # written, the old delta link still points before them and they are read again.
    files = [(Path(args.out), text.encode("utf-8"))] if args.out else []
    if not args.out:
        out.write(text)
        out.flush()
    if args.links:
        files.append((Path(args.links), (json.dumps(links, indent=2) + "\n").encode("utf-8")))
    try:
        write_in_order(files)
    except OSError as exc:
        raise _Failure([f"crmsync: cannot write: {exc.strerror or exc}"]) from None
    return EXIT_OK


def _known_ids(path: str | None) -> dict[tuple[Domain, str], str]:
    """The Graph ids of linked items from a `--links` file of an earlier read."""
    if not path:
        return {}
    data = parse_json_file(path)
    entries: Any = data.get("graph_ids", []) if isinstance(data, dict) else None
    domains = {d.value for d in Domain}
    ok = isinstance(entries, list) and all(
        isinstance(e, list) and len(e) == 3 and all(isinstance(p, str) for p in e) for e in entries
    )
    if not ok or not all(e[0] in domains for e in entries):
        message = "graph_ids: expected [[domain, key, graph id], ...] as --links writes it"
        raise _Failure([f"crmsync: {path} is not valid:", f"  $.{message}"])
    return {(Domain(d), key): graph_id for d, key, graph_id in entries}


def _links_json(delta: Mapping[str, str], more: Mapping[str, str]) -> dict[str, Any]:
    return {"delta_links": dict(delta), "next_links": dict(more)}


def _add_inputs(command: argparse.ArgumentParser, verb: str) -> None:
    """The inputs `plan` and `explain` both read."""
    command.add_argument("--example", action="store_true", help=f"{verb} the bundled example")
    command.add_argument(
        "--crm", metavar="FILE", nargs="+", help="what the CRM holds now (service pages in order)"
    )
    command.add_argument(
        "--outlook",
        metavar="FILE",
        nargs="+",
        help="what the mailbox holds now (service pages in order)",
    )
    command.add_argument("--baseline", metavar="FILE", help="both sides after the last sync")
    command.add_argument("--settings", metavar="FILE", help="the synchronization settings")
    command.add_argument("--user", default="", metavar="EMAIL", help="the syncing user")
    command.add_argument("--now", metavar="ISO", help="plan for this moment (default: now)")
    command.add_argument(
        "--crm-format",
        choices=("crmsync", "dataverse"),
        default="crmsync",
        help="--crm holds a crmsync snapshot (default) or Dataverse Web API collections",
    )
    command.add_argument(
        "--outlook-format",
        choices=("crmsync", "graph"),
        default="crmsync",
        help="--outlook holds a crmsync snapshot (default) or Microsoft Graph collections",
    )
    command.add_argument(
        "--partial",
        nargs="?",
        const="both",
        choices=("crm", "outlook", "both"),
        help="the service files of this side (default both) are a delta round: a record "
        "they do not hold is unchanged since the baseline",
    )
    command.add_argument(
        "--known-ids",
        metavar="FILE",
        help="a --links file of an earlier `crmsync convert --from graph`: Graph removed "
        "entries name Graph ids, and this maps them to the keys of linked items",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crmsync",
        description="Plan how contacts, appointments and tasks sync between Dynamics 365 "
        "and Outlook, and apply plans to JSON snapshots.",
    )
    parser.add_argument("--version", action="version", version=f"crmsync {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan a sync and print the plan")
    _add_inputs(plan, "plan")
    plan.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="text (default), json (for crmsync apply) or html (a self-contained page)",
    )
    plan.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not standard output")
    plan.add_argument(
        "--summary",
        action="store_true",
        help="print only the counts and the data-loss notices",
    )
    plan.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing (no plan, no progress): the exit code and -o FILE speak",
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
    why = commands.add_parser(
        "explain",
        help="why does (or doesn't) one record sync: its values side by side, a verdict per field",
    )
    why.add_argument(
        "key",
        metavar="KEY",
        help="the record's key, or a contact's name or e-mail address, or a subject",
    )
    _add_inputs(why, "explain a record of")
    why.add_argument(
        "--domain",
        choices=("contact", "appointment", "task"),
        help="look only in this domain (default: every domain that has the key)",
    )
    run = commands.add_parser("apply", help="apply a plan to JSON snapshots")
    run.add_argument("plan", metavar="PLAN", help="the plan, as `crmsync plan --format json`")
    run.add_argument("--crm", metavar="FILE", required=True)
    run.add_argument("--outlook", metavar="FILE", required=True)
    run.add_argument("--baseline", metavar="FILE")
    run.add_argument("--out", metavar="DIR", required=True, help="where to write the results")
    convert = commands.add_parser(
        "convert", help="write crmsync's JSON snapshot from Graph or Dataverse files"
    )
    convert.add_argument("--from", dest="source", choices=("graph", "dataverse"), required=True)
    convert.add_argument("files", metavar="FILE", nargs="+", help="the pages of one read, in order")
    convert.add_argument(
        "--partial", action="store_true", help="the files are a delta round (a partial snapshot)"
    )
    convert.add_argument("--out", metavar="FILE", help="write the snapshot here (default: stdout)")
    convert.add_argument(
        "--baseline",
        metavar="FILE",
        help="the last sync's baseline: a To Do task's percent complete is read from it",
    )
    convert.add_argument(
        "--known-ids",
        metavar="FILE",
        help="a --links file of an earlier read (Graph ids of linked items, for removed entries)",
    )
    convert.add_argument(
        "--links",
        metavar="FILE",
        help="write the delta and next links (and the Graph ids of linked items) here",
    )
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
        if args.command == "convert":
            return _convert_command(args, out)
        if args.command == "explain":
            return _explain_command(args, out)
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
