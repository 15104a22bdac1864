"""A seeded mutation smoke over the planning core: a few dozen mutants, in minutes.

mutmut (docs/testing.md) checks every mutant of the core and takes hours; this script
checks a seeded sample, so a developer can see in minutes whether the tests still notice
a broken rule. Each mutant is one small change to one source file:

- a comparison flipped (`==` and `!=`, `<` and `>=`, `is` and `is not`, `in` and `not in`);
- `and` and `or` swapped;
- a statement deleted (replaced by `pass`);
- a number or a truth value changed (`n` to `n + 1`, `True` to `False`);
- an enum member swapped for another of its enum (`Side.CRM` to `Side.OUTLOOK`).

Strings are never mutated: notice and error wording is not behaviour (their codes are).
Docstrings, f-strings and annotations are left alone too.

For each mutant the script writes the mutated file, runs a fast selection of the tests
(`pytest -x`, with a timeout), and restores the file, always (`try`/`finally`; a copy of
every file it touches waits in `.mutation_smoke/` until it is restored, and a run started
after a crash restores from it first). A mutant is killed when the tests fail or time
out, and survives when they pass. Each mutant's run compiles into its own bytecode cache
(`PYTHONPYCACHEPREFIX`): a mutant of the same size written within the same second as
the source would otherwise reuse a stale `.pyc`.

    python scripts/mutation_smoke.py                   # 40 mutants, seed 0
    python scripts/mutation_smoke.py --mutants 10 --seed 7
    python scripts/mutation_smoke.py --list            # the sample, without running it

It prints one line per mutant, then the score and every survivor's file:line and mutation.
The exit status is 0 when the run completed (survivors are a report, not a failure), 2
when the tests fail on the unmutated source, 3 when another run is mutating the checkout.
Do not run other tests in the checkout while it runs: they would see the mutated file.
"""

from __future__ import annotations

import argparse
import ast
import enum
import hashlib
import importlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BACKUP = ROOT / ".mutation_smoke"

CORE = (
    "src/crmsync/planning.py",
    "src/crmsync/policy.py",
    "src/crmsync/merge.py",
    "src/crmsync/fieldmerge.py",
    "src/crmsync/contacts.py",
    "src/crmsync/appointments.py",
    "src/crmsync/tasks.py",
    "src/crmsync/apply.py",
    "src/crmsync/plan.py",
)
"""The planning core: the modules that decide what a plan holds and how it applies."""

TESTS = (
    "tests/test_merge.py",
    "tests/test_fieldmerge.py",
    "tests/test_contacts.py",
    "tests/test_appointments.py",
    "tests/test_tasks.py",
    "tests/test_policy.py",
    "tests/test_planning.py",
    "tests/test_apply.py",
    "tests/test_plan.py",
    "tests/test_partial.py",
    "tests/test_mutants.py",
    "tests/test_golden_plans.py",
)
"""The fast selection: the example tests of the core (about ten seconds in all)."""

ENUM_MODULES = ("crmsync.records", "crmsync.settings", "crmsync.plan")

_FLIPPED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_DELETABLE = (ast.Expr, ast.AugAssign, ast.Assign, ast.Return, ast.Continue, ast.Break, ast.Raise)


@dataclass(frozen=True)
class Mutant:
    """One change to one file: the source from `start` to `end` (line, column) becomes `new`."""

    path: str
    kind: str
    line: int
    start: tuple[int, int]
    end: tuple[int, int]
    new: str
    description: str

    def apply(self, source: str) -> str:
        """The source with this mutant in it."""
        lines = source.splitlines(keepends=True)
        # ast columns count UTF-8 bytes.
        (l1, c1), (l2, c2) = self.start, self.end
        head = lines[l1 - 1].encode()[:c1].decode()
        tail = lines[l2 - 1].encode()[c2:].decode()
        replaced = head + self.new + tail
        # A deleted statement keeps its line count, so every later line keeps its number.
        padding = "\n" * (l2 - l1) if self.kind == "statement" else ""
        return "".join([*lines[: l1 - 1], replaced + padding, *lines[l2:]])


def _enums() -> dict[str, list[str]]:
    """The project's enumerations by class name, with their member names."""
    found: dict[str, list[str]] = {}
    sys.path.insert(0, str(ROOT / "src"))
    for name in ENUM_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, enum.Enum) and len(value) > 1:
                found[value.__name__] = [m.name for m in value]
    return found


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Ids of nodes not to mutate: docstrings, f-strings, annotations and `__all__`."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt) and _is_text(body[0]):
            mark(body[0])
        if isinstance(node, ast.JoinedStr):
            mark(node)
        if isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, ast.arg):
            mark(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mark(node.returns)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            mark(node)
    return skip


def _is_text(node: ast.stmt) -> bool:
    """True for a string standing alone as a statement (an attribute's docstring)."""
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _segment(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    line: int = getattr(node, "lineno", 0)
    col: int = getattr(node, "col_offset", 0)
    end_line = getattr(node, "end_lineno", None)
    end_col = getattr(node, "end_col_offset", None)
    return (line, col), (
        line if end_line is None else end_line,
        col if end_col is None else end_col,
    )


def _text(lines: Sequence[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source between two ast positions (columns count UTF-8 bytes).

    `ast.get_source_segment` splits the whole source on every call: too slow for every node.
    """
    (l1, c1), (l2, c2) = start, end
    if l1 == l2:
        return lines[l1 - 1].encode()[c1:c2].decode()
    middle = [line + "\n" for line in lines[l1 : l2 - 1]]
    head = lines[l1 - 1].encode()[c1:].decode() + "\n"
    return head + "".join(middle) + lines[l2 - 1].encode()[:c2].decode()


def _alone_on_its_lines(node: ast.stmt, lines: Sequence[str]) -> bool:
    """True when the statement fills its lines (no `;`, nothing else before or after it)."""
    (l1, c1), (l2, c2) = _segment(node)
    first, last = lines[l1 - 1].encode(), lines[l2 - 1].encode()
    return not first[:c1].strip() and not last[c2:].split(b"#")[0].strip()


def mutants_of(path: str, enums: dict[str, list[str]]) -> Iterator[Mutant]:
    """Every mutant this script can make of one file, in source order."""
    source = (ROOT / path).read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    skip = _skipped_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if not hasattr(node, "lineno"):
            continue
        start, end = _segment(node)
        old = _text(lines, start, end)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            flipped = _FLIPPED.get(type(node.ops[0]))
            if flipped is not None:
                new = ast.Compare(left=node.left, ops=[flipped()], comparators=node.comparators)
                text = f"({ast.unparse(new)})"
                yield Mutant(path, "comparison", node.lineno, start, end, text, f"{old} -> {text}")
        elif isinstance(node, ast.BoolOp):
            swapped = ast.BoolOp(
                op=ast.Or() if isinstance(node.op, ast.And) else ast.And(), values=node.values
            )
            text = f"({ast.unparse(swapped)})"
            word = "and -> or" if isinstance(node.op, ast.And) else "or -> and"
            yield Mutant(path, "boolean", node.lineno, start, end, text, f"{word}: {old}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            value = node.value
            new_value = (not value) if isinstance(value, bool) else value + 1
            yield Mutant(
                path,
                "constant",
                node.lineno,
                start,
                end,
                repr(new_value),
                f"{value!r} -> {new_value!r}",
            )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in enums
            and node.attr in enums[node.value.id]
            and isinstance(node.ctx, ast.Load)
        ):
            others = [m for m in enums[node.value.id] if m != node.attr]
            # The replacement is drawn from the member's own place, so a seed is a sample.
            other = others[(node.lineno + node.col_offset) % len(others)]
            text = f"{node.value.id}.{other}"
            yield Mutant(path, "enum", node.lineno, start, end, text, f"{old} -> {text}")
        if isinstance(node, _DELETABLE) and not _is_text(node) and _alone_on_its_lines(node, lines):
            first = old.splitlines()[0]
            yield Mutant(
                path,
                "statement",
                node.lineno,
                (start[0], start[1]),
                end,
                "pass",
                f"deleted: {first}",
            )


def sample(paths: Sequence[str], count: int, seed: int) -> list[Mutant]:
    """`count` mutants drawn with `seed`, spread over the kinds of change, in a stable order."""
    enums = _enums()
    everything = [m for path in paths for m in mutants_of(path, enums)]
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    by_kind: dict[str, list[Mutant]] = {}
    for mutant in everything:
        by_kind.setdefault(mutant.kind, []).append(mutant)
    for group in by_kind.values():
        rng.shuffle(group)
    chosen: list[Mutant] = []
    kinds = sorted(by_kind)
    while len(chosen) < count and any(by_kind.values()):
        for kind in kinds:
            if by_kind[kind] and len(chosen) < count:
                chosen.append(by_kind[kind].pop())
    return sorted(chosen, key=lambda m: (m.path, m.line, m.start, m.kind))


def _run_tests(tests: Sequence[str], timeout: float) -> str:
    """'passed', 'failed' or 'timeout' for one run of the fast selection."""
    with tempfile.TemporaryDirectory(prefix="mutation-smoke-pyc-") as cache:
        env = {
            **os.environ,
            "PYTHONPYCACHEPREFIX": cache,
            "HYPOTHESIS_PROFILE": "mutation",
            "CRMSYNC_SKIP_BROWSER": "1",
        }
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and test paths
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "timeout"
    return "passed" if done.returncode == 0 else "failed"


def _running_elsewhere() -> int:
    """The process id of another run working in this checkout (0 if none)."""
    try:
        pid = int((BACKUP / "pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return 0
    return pid if pid != os.getpid() else 0


def _restore_leftovers() -> None:
    """Puts back any file a run stopped by force (SIGKILL, a power cut) left mutated."""
    if not BACKUP.exists():
        return
    for copy in sorted(BACKUP.rglob("*.py")):
        target = ROOT / copy.relative_to(BACKUP)
        shutil.copyfile(copy, target)
        print(f"restored {target.relative_to(ROOT)} from an interrupted run", file=sys.stderr)
    shutil.rmtree(BACKUP)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stop(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(
    mutants: Sequence[Mutant], tests: Sequence[str], timeout: float
) -> tuple[int, list[Mutant]]:
    """Runs each mutant; returns how many were killed, and the survivors.

    Every source file is restored, whatever happens (an error, Ctrl-C, SIGTERM).
    """
    originals = {m.path: (ROOT / m.path).read_text() for m in mutants}
    digests = {path: _digest(ROOT / path) for path in originals}
    BACKUP.mkdir(exist_ok=True)
    (BACKUP / "pid").write_text(str(os.getpid()))
    for path in originals:
        copy = BACKUP / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, copy)
    previous = signal.signal(signal.SIGTERM, _stop)
    survivors: list[Mutant] = []
    killed = 0
    try:
        for i, mutant in enumerate(mutants, 1):
            target = ROOT / mutant.path
            mutated = mutant.apply(originals[mutant.path])
            try:
                compile(mutated, mutant.path, "exec")
            except SyntaxError:  # pragma: no cover - the mutants are built from valid nodes
                print(f"[{i:>3}/{len(mutants)}] not Python       {mutant.path}:{mutant.line}")
                continue
            began = time.monotonic()
            try:
                target.write_text(mutated)
                outcome = _run_tests(tests, timeout)
            finally:
                target.write_text(originals[mutant.path])
            verdict = "survived" if outcome == "passed" else "killed"
            if outcome == "timeout":
                verdict = "killed (timeout)"
            if outcome == "passed":
                survivors.append(mutant)
            else:
                killed += 1
            seconds = time.monotonic() - began
            print(
                f"[{i:>3}/{len(mutants)}] {verdict:<16} {mutant.path}:{mutant.line}  "
                f"{mutant.description}  ({seconds:.0f}s)",
                flush=True,
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
        for path, text in originals.items():
            (ROOT / path).write_text(text)
        changed = [path for path, digest in digests.items() if _digest(ROOT / path) != digest]
        if changed:  # pragma: no cover - write_text of the original cannot differ
            print(f"NOT RESTORED (copies kept in {BACKUP}): {changed}", file=sys.stderr)
        else:
            shutil.rmtree(BACKUP, ignore_errors=True)
    return killed, survivors


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mutants", type=int, default=40, help="how many (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--files", nargs="+", default=list(CORE), help="files to mutate")
    parser.add_argument("--tests", nargs="+", default=list(TESTS), help="tests to run")
    parser.add_argument(
        "--timeout", type=float, default=0, help="seconds per run (default: 5 x the clean run)"
    )
    parser.add_argument("--list", action="store_true", help="print the sample, run nothing")
    args = parser.parse_args(argv)

    mutants = sample(args.files, args.mutants, args.seed)
    if args.list:
        for mutant in mutants:
            print(f"{mutant.kind:<10} {mutant.path}:{mutant.line}  {mutant.description}")
        return 0
    other = _running_elsewhere()
    if other:
        print(f"another run (process {other}) is mutating this checkout", file=sys.stderr)
        return 3
    _restore_leftovers()
    began = time.monotonic()
    if _run_tests(args.tests, timeout=600) != "passed":
        print("the tests fail on the unmutated source: fix them first", file=sys.stderr)
        return 2
    clean = time.monotonic() - began
    timeout = args.timeout or max(30.0, 5 * clean)
    print(
        f"{len(mutants)} mutants, seed {args.seed}; clean run {clean:.0f}s, timeout {timeout:.0f}s"
    )
    killed, survivors = run(mutants, args.tests, timeout)
    tried = killed + len(survivors)
    print(f"\nkilled {killed} of {tried} ({100 * killed / max(tried, 1):.1f}%)")
    for mutant in survivors:
        print(f"  survived  {mutant.path}:{mutant.line}  {mutant.kind}: {mutant.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
