"""The ``attune-nb`` command: the embedded database, migrations, demo data, notebooks.

Every command honours ``ATTUNE_DB_URL``; errors print one clear line and exit 1.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from attune_nb.demo.catalogue import DEMO_EXECUTIONS, DEMO_SEED
from attune_nb.errors import AttuneNbError, ConfigurationError

if TYPE_CHECKING:
    from attune_nb.db import Database
    from attune_nb.runner import NotebookRun

__all__ = ["main"]

log = logging.getLogger("attune_nb")


def _external_url() -> str | None:
    return os.environ.get("ATTUNE_DB_URL") or None


def _open(*, migrated: bool = True) -> Database:
    from attune_nb.db import connect, open_database

    return connect() if migrated else open_database()


def cmd_db(args: argparse.Namespace) -> int:
    from attune_nb.db import mask_url
    from attune_nb.embedded import EmbeddedServer, running_servers

    external = _external_url()
    if external and args.action in ("start", "stop"):
        raise ConfigurationError(
            "ATTUNE_DB_URL",
            mask_url(external),
            "unset to manage the embedded database; `db start`/`db stop` never touch an "
            "external server",
        )
    server = EmbeddedServer()
    if args.action == "start":
        url = server.start(keep_running=True)
        print(
            f"embedded database running in {server.home} ({server.reason}); it keeps "
            f"running until `attune-nb db stop`\n{url}"
        )
    elif args.action == "stop":
        print("stopped" if server.stop() else f"not running ({server.home})")
    elif args.action == "status":
        if external:
            db = _open(migrated=False)
            print(f"ATTUNE_DB_URL: {db.url} (reachable)")
            db.close()
            return 0
        status = server.status()
        print(f"home: {server.home}\n  chosen because: {server.reason}\n{status}")
        others = [s for s in running_servers() if s.home != server.home]
        for other in others:
            print(f"also running in this checkout: {other}")
        return 0 if status.running else 3
    elif args.action == "url":
        print(mask_url(external) if external else server.url())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from attune_nb.migrations import migrate

    db = _open(migrated=False)
    applied = migrate(db)
    print(f"{db.url}: applied {', '.join(applied)}" if applied else f"{db.url}: already up to date")
    db.close()
    return 0


def _seed(db: Database, *, executions: int, seed: int, force: bool) -> None:
    from tqdm import tqdm

    from attune_nb.demo import SEED_PHASES
    from attune_nb.demo import seed as seed_data

    bar: tqdm | None = None  # created on the first phase, after the input is validated

    def progress(message: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(
                total=SEED_PHASES,
                unit="phase",
                file=sys.stderr,
                desc=message,
                bar_format="{desc:<44} {n}/{total} {bar} {elapsed}",
            )
        else:
            bar.set_description(message, refresh=False)
            bar.update(1)

    try:
        report = seed_data(
            db, executions=executions, random_seed=seed, force=force, progress=progress
        )
        if bar is not None:
            bar.update(bar.total - bar.n)
    finally:
        if bar is not None:
            bar.close()
    print(report)


def cmd_seed(args: argparse.Namespace) -> int:
    db = _open()
    _seed(db, executions=args.executions, seed=args.seed, force=args.force)
    db.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from attune_nb.embedded import DEMO_SEEDED, EmbeddedServer
    from attune_nb.engine import application_name
    from attune_nb.migrations import migrate

    external = _external_url()
    if not external:
        # Started for this command: stopped as it exits, unless still in use.
        server = EmbeddedServer()
        os.environ["ATTUNE_DB_URL"] = server.start()
        atexit.register(server.release, ignore_application=application_name())
        print(f"embedded database in {server.home} ({server.reason})")
    db = _open(migrated=False)
    migrate(db)
    count = db.scalar("SELECT count(*) FROM attune.execution")
    if count:
        print(f"{db.url}: {count:,} executions already there; not seeding")
    else:
        _seed(db, executions=args.executions, seed=args.seed, force=False)
    db.close()
    if not external:
        (EmbeddedServer().home / DEMO_SEEDED).touch()  # a later connect() does not seed again
    notebooks = Path(args.notebooks) if args.notebooks else _notebooks_dir()
    if args.no_lab:
        print(
            "ready: `attune_nb.connect()` opens this database from anywhere in this "
            f"checkout (it starts the server when needed)\nopen the notebooks in {notebooks} "
            "with `jupyter lab`, or run them with `attune-nb run-notebooks`"
        )
        return 0
    if args.report or not _interactive():
        from attune_nb.embedded import default_home
        from attune_nb.runner import run_notebooks

        why = "as asked" if args.report else "not interactive (no terminal, or $CI set)"
        print(f"{why}: running the notebooks into an HTML report instead of opening JupyterLab")
        output = default_home() / "report"
        runs = run_notebooks(notebooks, output=output, url=os.environ.get("ATTUNE_DB_URL"))
        return _print_runs(runs, output)
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    hidden = "['conftest.py', '__pycache__', '*.pyc', '.ipynb_checkpoints', '_*']"
    command = [
        jupyter,
        "lab",
        f"--notebook-dir={notebooks}",
        f"--ContentsManager.hide_globs={hidden}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    print("starting JupyterLab (Ctrl-C to stop)")
    try:
        return subprocess.call(command, env=os.environ.copy())
    except KeyboardInterrupt:
        return 0


def _interactive() -> bool:
    """Someone at a terminal: stdin is one, and no CI says otherwise."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    return sys.stdin is not None and sys.stdin.isatty()


def _notebooks_dir() -> Path:
    from attune_nb.runner import default_notebooks_dir

    return default_notebooks_dir()


def cmd_run_notebooks(args: argparse.Namespace) -> int:
    from attune_nb.db import connect
    from attune_nb.embedded import EmbeddedServer, default_home
    from attune_nb.runner import parse_value, run_notebooks

    parameters = {name: parse_value(value) for name, value in args.parameter or []}
    if parameters and args.in_place:
        raise ConfigurationError(
            "-p", parameters, "none with --in-place: the stored outputs are those of the defaults"
        )
    url = _external_url()
    if url is None:  # the embedded default, migrated and given the demo data when empty
        connect(readonly=True).close()
        url = EmbeddedServer().url()
    output = (
        None if args.in_place else (Path(args.output) if args.output else default_home() / "report")
    )
    folder = Path(args.notebooks) if args.notebooks else None
    runs = run_notebooks(
        folder,
        output=output,
        url=url,
        timeout=args.timeout,
        parameters=parameters,
        only=args.only or (),
    )
    return _print_runs(runs, output)


def _print_runs(runs: Sequence[NotebookRun], output: Path | None) -> int:
    """One line per notebook, then the total and where the report is; the exit code."""
    from attune_nb.report import INDEX

    failed = 0
    for run in runs:
        given = "".join(f" {name}={value!r}" for name, value in run.parameters.items())
        if run.ok:
            page = run.html or run.executed
            print(f"ok      {run.notebook.name} ({run.seconds:.1f}s){given} -> {page}")
        else:
            failed += 1
            print(f"FAILED  {run.notebook.name}{given}: {run.error}", file=sys.stderr)
    said = "outputs stored in the notebooks" if output is None else f"report: {output / INDEX}"
    print(f"{len(runs) - failed} passed, {failed} failed; {said}")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    filters: dict[str, object] = {
        name: value
        for name, value in (
            ("status", args.status),
            ("action_ref", args.action_ref),
            ("pack", args.pack),
            ("rule_ref", args.rule_ref),
            ("trigger_ref", args.trigger_ref),
            ("since", args.since),
            ("until", args.until),
        )
        if value is not None
    }
    if args.top_level_only:
        filters["top_level_only"] = True
    if args.workflows_only:
        filters["workflows_only"] = True
    db = _open()
    try:
        report = db.executions.export(
            args.path,
            what=args.what,
            format=args.format,
            include=args.include or (),
            batch_rows=args.batch_rows,
            progress=False if args.no_progress else None,
            overwrite=args.overwrite,
            **filters,  # type: ignore[arg-type]
        )
    finally:
        db.close()
    print(report)
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attune-nb",
        description="Analysis and operations toolkit over an Attune database. Every command "
        "uses $ATTUNE_DB_URL when set, else the embedded database in "
        "$ATTUNE_NB_HOME (default ./.attune_nb).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser(
        "db",
        help="start, stop or inspect the embedded database",
        description="Manage the embedded PostgreSQL (data in $ATTUNE_NB_HOME).",
    )
    db.add_argument(
        "action",
        choices=("start", "stop", "status", "url"),
        help="start it, stop it, show whether it runs, or print its URL",
    )
    db.set_defaults(func=cmd_db)

    migrate = sub.add_parser(
        "migrate",
        help="create or update the attune schema",
        description="Apply pending migrations. Refuses a real Attune "
        "schema that attune_nb did not create.",
    )
    migrate.set_defaults(func=cmd_migrate)

    seed = sub.add_parser(
        "seed",
        help="write a deterministic demo execution history",
        description="Write realistic demo data (fixed clock, seeded).",
    )
    seed.add_argument(
        "--executions",
        type=_positive,
        default=DEMO_EXECUTIONS,
        metavar="N",
        help=f"how many executions (default {DEMO_EXECUTIONS:,})",
    )
    seed.add_argument(
        "--seed",
        type=int,
        default=DEMO_SEED,
        metavar="S",
        help=f"random seed (default {DEMO_SEED})",
    )
    seed.add_argument("--force", action="store_true", help="add demo data even if executions exist")
    seed.set_defaults(func=cmd_seed)

    demo = sub.add_parser(
        "demo",
        help="embedded database + demo data + JupyterLab (or the report)",
        description="Start the embedded database, migrate, seed if empty, then open "
        "JupyterLab on the notebooks. When not interactive (stdin is not a terminal, or "
        "$CI is set) it runs the notebooks into an HTML report in $ATTUNE_NB_HOME/report "
        "instead and prints where.",
    )
    demo.add_argument(
        "--no-lab",
        action="store_true",
        help="stop before opening JupyterLab (and before any report)",
    )
    demo.add_argument(
        "--report",
        action="store_true",
        help="write the HTML report instead of opening JupyterLab, also when interactive",
    )
    demo.add_argument(
        "--executions",
        type=_positive,
        default=DEMO_EXECUTIONS,
        metavar="N",
        help=f"executions to seed into an empty database (default {DEMO_EXECUTIONS:,})",
    )
    demo.add_argument("--seed", type=int, default=DEMO_SEED, metavar="S", help="random seed")
    demo.add_argument("--notebooks", metavar="DIR", help="notebook folder (default ./notebooks)")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser(
        "run-notebooks",
        help="execute the notebooks headlessly into an HTML report",
        description="Execute the notebooks (papermill, one kernel each) against the current "
        "database; write executed copies, one HTML page each and an index.html that lists "
        "them with status, run time and parameters. The pages need no kernel and no network.",
        epilog="Each notebook gets only the -p parameters its parameters cell declares (the "
        "pages and the index say which); one that no notebook run declares is an error.",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="set a parameter, like papermill: True/False/None, an int, a float, else a "
        "string (repeatable: -p APPLY True -p SINCE 2026-01-10)",
    )
    run.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only the notebooks whose name matches this glob, e.g. '04*' (repeatable)",
    )
    run.add_argument(
        "--output", metavar="DIR", help="where the report goes (default $ATTUNE_NB_HOME/report)"
    )
    run.add_argument("--notebooks", metavar="DIR", help="notebook folder (default ./notebooks)")
    run.add_argument(
        "--in-place",
        action="store_true",
        help="store the outputs in the notebooks themselves (what nbval compares), without "
        "run metadata; no report, no -p. Run on the demo data: `attune-nb demo --no-lab` "
        "on an empty home",
    )
    run.add_argument(
        "--timeout",
        type=_positive,
        default=600,
        metavar="SECONDS",
        help="per-cell timeout (default 600)",
    )
    run.set_defaults(func=cmd_run_notebooks)

    export = sub.add_parser(
        "export",
        help="write executions or their history to Parquet or CSV, streamed",
        description="Write what frame(limit=None) returns (or the audit history of those "
        "executions) to a file in batches, with the frame's layout: memory stays flat. The "
        "file appears only when complete.",
        epilog="Filters are those of frame(): repeat a flag for several values, refs take "
        "'pack.*', naive times are UTC. Example: attune-nb export failed.parquet --status "
        "failed --status timeout --since 2026-01-10",
    )
    export.add_argument(
        "path", metavar="PATH", help="file to write; .parquet or .csv picks the format"
    )
    export.add_argument(
        "--what",
        choices=("executions", "history"),
        default="executions",
        help="executions (default) or their audit history",
    )
    export.add_argument(
        "--format", choices=("parquet", "csv"), help="override the format the suffix implies"
    )
    export.add_argument(
        "--include",
        action="append",
        metavar="COLUMN",
        help="a JSON column to add: config, result, env_vars, workflow_task (repeatable)",
    )
    for flag, what in (
        ("--status", "a status"),
        ("--action-ref", "an action ref, or pack.*"),
        ("--pack", "a pack"),
        ("--rule-ref", "a rule ref"),
        ("--trigger-ref", "a trigger ref"),
    ):
        export.add_argument(flag, action="append", metavar="VALUE", help=f"{what} (repeatable)")
    export.add_argument("--since", metavar="TIME", help="created at or after (UTC if naive)")
    export.add_argument("--until", metavar="TIME", help="created before (UTC if naive)")
    export.add_argument("--top-level-only", action="store_true", help="no workflow tasks")
    export.add_argument(
        "--workflows-only", action="store_true", help="only executions that run a workflow"
    )
    export.add_argument(
        "--batch-rows",
        type=_positive,
        default=100_000,
        metavar="N",
        help="rows per batch and Parquet row group (default 100000)",
    )
    export.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    export.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``attune-nb``; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except AttuneNbError as exc:
        print(f"attune-nb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("attune-nb: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
