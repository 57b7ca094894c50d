"""Mutation testing of the modules that hold the rules: `make mutation` (MUTATE=ledger,periods for some).

mutmut (configured in pyproject.toml's [tool.mutmut]) makes each small change ("mutant") to a
rule's code in a copy under mutants/ and runs the tests that reach the changed function; a mutant
the tests do not notice "survives". This runs the modules named below, then prints the score per
module and every survivor. A survivor listed in docs/mutation-survivors.md (an equivalent change,
with the reason) is counted as explained; any other is a gap in the tests, and the exit status is 1.

The tests run on SQLite with no outside services, one mutant at a time (one core), because the
team shares the machines this runs on.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS_FILE = ROOT / "docs" / "mutation-survivors.md"

# In the order they are worth running when time is short. Each is a module and the functions
# of it that hold the rule ("*" for all of them).
MODULES: dict[str, list[tuple[str, str]]] = {
    "ledger": [("attestations.ledger", "*")],
    "periods": [("attestations.periods", "*")],
    "links": [("attestations.links", "*")],
    "neutraliser": [("opcc_portal.lib.text", "neutralise"), ("attestations.audit.exports", "cell")],
    "services": [("attestations.services", "*"), ("groups.services", "*")],
    "permissions": [("groups.permissions", "*")],
    # The outbox's rules: what is retried, what a failure gives back, what is built and sent, the
    # claims. Not `outbox_add` and `queue_on_commit`, which write and queue the rows: every email
    # test goes through them, so their mutants take the longest, and the tests of the rules above
    # (and the outbox's constraint, tests/notifications/test_outbox.py) fail when they break.
    "outbox": [
        ("attestations.outbox", name)
        for name in (
            "register",
            "_queue",
            "member_emails_add",
            "mail_error_is_transient",
            "message_id",
            "build",
            "sentemail_send",
            "_send_failed",
            "_release_claims",
        )
    ]
    + [("attestations.notifications.sweep", "sweep")]
    + [
        ("attestations.notifications.emails", name)
        for name in ("_open_flags", "build_member_email", "build_flags_email")
    ],
}

# mutmut's exit codes of a mutant's test run (mutmut.stats.status_by_exit_code).
KILLED = {1, 3, 24, -24, 152, 255, 36, 37}  # failed, errored, or ran out of time
SURVIVED = {0}
NO_TESTS = {5, 33}


def globs(module: str, *, exact: bool = False) -> list[str]:
    """mutmut's names for the module's mutants. mutmut also matches a pattern against function
    names (to choose the tests of a first clean run), so the run's patterns stop at the name."""
    tail = "__mutmut_*" if exact else "*"
    return [f"{path}.x_{func}{tail}" if func != "*" else f"{path}.*" for path, func in MODULES[module]]


def explained() -> set[str]:
    """Mutant names listed in the survivors file (each on a line of its own table, first column)."""
    if not SURVIVORS_FILE.exists():
        return set()
    return set(re.findall(r"^\|\s*`([\w.ǁ]+__mutmut_\d+)`", SURVIVORS_FILE.read_text(), flags=re.MULTILINE))


def results() -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def report(modules: list[str]) -> int:
    codes, listed, unexplained, survivors = results(), explained(), [], []
    print(f"\n{'module':<12} {'mutants':>7} {'killed':>7} {'survived':>8} {'no test':>7} {'score':>6}  explained")
    totals: Counter = Counter()
    for module in modules:
        patterns = globs(module, exact=True)
        names = sorted(n for n in codes if any(fnmatch.fnmatchcase(n, p) for p in patterns))
        count: Counter = Counter()
        for name in names:
            code = codes[name]
            kind = (
                "killed"
                if code in KILLED
                else "survived"
                if code in SURVIVED
                else "no test"
                if code in NO_TESTS
                else "unchecked"
            )
            count[kind] += 1
            if kind in ("survived", "no test"):
                count["explained"] += name in listed
                survivors.append(f"  {name} ({kind}{', explained' if name in listed else ''})")
                if name not in listed:
                    unexplained.append(name)
        totals.update(count)
        checked = len(names) - count["unchecked"]
        score = f"{100 * count['killed'] / checked:.1f}%" if checked else "-"
        note = f"  ({count['unchecked']} not run)" if count["unchecked"] else ""
        print(
            f"{module:<12} {len(names):>7} {count['killed']:>7} {count['survived']:>8} {count['no test']:>7}"
            f" {score:>6}  {count['explained']}{note}"
        )
    checked = sum(totals[k] for k in ("killed", "survived", "no test"))
    if checked:
        killed = totals["killed"]
        print(f"{'all':<12} {checked:>7} {killed:>7} {totals['survived']:>8} {totals['no test']:>7}", end="")
        print(f" {100 * killed / checked:>5.1f}%  {totals['explained']}")
        print(f"Killed or explained: {100 * (killed + totals['explained']) / checked:.1f}%")
    if survivors:
        print("\nSurvivors (`mutmut show NAME` shows the change):", *survivors, sep="\n")
    if unexplained:
        print(f"\n{len(unexplained)} survivors are not explained in {SURVIVORS_FILE.relative_to(ROOT)}.")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--report", action="store_true", help="only print the results of the last run")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the last run's unexplained survivors, and the mutants it did not reach (cut short)",
    )
    args = parser.parse_args()
    modules = [m for arg in args.modules for m in arg.split(",") if m] or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    if not args.report:
        # The fast tests only: SQLite and the folder broker, never the services of the shell.
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REQUIRE_SERVICES")
        }
        mutmut = Path(sys.executable).with_name("mutmut")
        names = [g for m in modules for g in globs(m)]
        if args.survivors:
            codes, listed = results(), explained()
            patterns = [g for m in modules for g in globs(m, exact=True)]
            names = [
                n
                for n, c in codes.items()
                if (c is None or c in SURVIVED | NO_TESTS)
                and n not in listed
                and any(fnmatch.fnmatchcase(n, p) for p in patterns)
            ]
            if not names:
                return report(modules)
        command = [str(mutmut), "run", "--max-children", "1", *names]
        subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603 - fixed arguments
    return report(modules)


if __name__ == "__main__":
    sys.exit(main())
