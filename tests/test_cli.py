"""The ``attune-nb`` command, run in-process (and once through its console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import attune_nb
from attune_nb.cli import main
from attune_nb.testing import ThrowawayServer

COMMANDS = [
    ["--help"],
    ["db", "--help"],
    ["migrate", "--help"],
    ["seed", "--help"],
    ["demo", "--help"],
    ["run-notebooks", "--help"],
    ["export", "--help"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: attune-nb" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "attune-nb"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "run-notebooks" in done.stdout


@pytest.fixture
def use(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    def point_at(url: str) -> str:
        monkeypatch.setenv("ATTUNE_DB_URL", url)
        return url

    return point_at


def test_migrate_then_up_to_date(
    empty_url: str, use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use(empty_url)
    assert main(["migrate"]) == 0
    assert "applied 0001_attune_schema.sql" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "already up to date" in capsys.readouterr().out


def test_seed_refuses_twice_without_force(
    db_url: str, use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use(db_url)
    assert main(["seed", "--executions", "300", "--seed", "3"]) == 0
    assert "seeded 300 executions" in capsys.readouterr().out
    assert main(["seed", "--executions", "300"]) == 1
    err = capsys.readouterr().err
    assert "already holds 300 executions" in err and "--force" in err
    assert main(["seed", "--executions", "300", "--force"]) == 0


@pytest.mark.parametrize("value", ["abc", "-5", "0"], ids=["word", "negative", "zero"])
def test_seed_rejects_bad_sizes(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["seed", "--executions", value])
    assert info.value.code == 2
    assert "--executions" in capsys.readouterr().err


def test_seed_too_small_is_a_clear_error(
    db_url: str, use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use(db_url)
    assert main(["seed", "--executions", "5"]) == 1
    assert "at least 100" in capsys.readouterr().err


def test_bad_url_fails_cleanly_and_masks_the_password(
    use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use("postgresql://attune:hunter2@127.0.0.1:1/attune")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("attune-nb: error: cannot use database")
    assert "hunter2" not in err and "***" in err
    assert "Traceback" not in err


def test_db_url_masks_an_external_url(
    use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use("postgresql://attune:hunter2@db.example:5432/attune")
    assert main(["db", "url"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "db.example" in out


def test_db_start_refuses_with_an_external_url(
    use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use("postgresql://attune@db.example:5432/attune")
    assert main(["db", "start"]) == 1
    assert "ATTUNE_DB_URL" in capsys.readouterr().err


def test_db_start_status_stop(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = Path(tmp_path_factory.mktemp("home", numbered=True))
    monkeypatch.delenv("ATTUNE_DB_URL", raising=False)
    monkeypatch.setenv("ATTUNE_NB_HOME", str(home))
    try:
        assert main(["db", "status"]) == 3
        assert "not created yet" in capsys.readouterr().out
        assert main(["db", "start"]) == 0
        assert "postgresql+psycopg2://postgres@/attune?host=" in capsys.readouterr().out
        assert main(["db", "status"]) == 0
        assert "running (pid" in capsys.readouterr().out
        assert main(["migrate"]) == 0
        capsys.readouterr()
        assert main(["db", "stop"]) == 0
        assert "stopped" in capsys.readouterr().out
        assert main(["db", "stop"]) == 0
        assert "not running" in capsys.readouterr().out
    finally:
        main(["db", "stop"])


def test_demo_without_lab_migrates_and_seeds_once(
    empty_url: str, use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use(empty_url)
    assert main(["demo", "--no-lab", "--executions", "400"]) == 0
    out = capsys.readouterr().out
    assert "seeded 400 executions" in out and "ready:" in out
    assert main(["demo", "--no-lab", "--executions", "400"]) == 0
    assert "400 executions already there; not seeding" in capsys.readouterr().out


def _notebook(path: Path, code: str, *, parameters: str | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("# test")]
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters))
        nb.cells[-1].metadata["tags"] = ["parameters"]
    nb.cells.append(nbformat.v4.new_code_cell(code))
    nbformat.write(nb, path)


def test_run_notebooks_writes_copies_and_html_and_reports_failures(
    pg: ThrowawayServer,
    db_url: str,
    use: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use(db_url)
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(
        folder / "a_ok.ipynb",
        "import attune_nb\nprint(attune_nb.connect().scalar('SELECT 40 + 2'))",
    )
    _notebook(folder / "b_broken.ipynb", "raise ValueError('broken on purpose')")
    out = tmp_path / "out"
    code = main(["run-notebooks", "--notebooks", str(folder), "--output", str(out)])
    assert code == 1
    captured = capsys.readouterr()
    assert f"1 passed, 1 failed; report: {out / 'index.html'}" in captured.out
    assert "b_broken.ipynb" in captured.err and "broken on purpose" in captured.err
    executed = nbformat.read(out / "a_ok.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"].strip() == "42"
    assert (out / "a_ok.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "b_broken.html").exists()
    json.loads((out / "b_broken.ipynb").read_text())
    index = (out / "index.html").read_text()
    assert 'href="a_ok.html"' in index and 'href="b_broken.html"' in index
    assert "ValueError: broken on purpose" in index


def test_run_notebooks_takes_parameters_like_papermill(
    db_url: str, use: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-p NAME VALUE typed as papermill types it; each notebook gets what it declares."""
    use(db_url)
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(
        folder / "a.ipynb",
        "print(repr(APPLY), repr(SINCE))",
        parameters="APPLY = False\nSINCE = 'x'",
    )
    _notebook(folder / "b.ipynb", "print(repr(SINCE))", parameters="SINCE = 'x'")
    out = tmp_path / "out"
    argv = ["run-notebooks", "--notebooks", str(folder), "--output", str(out)]
    code = main([*argv, "-p", "APPLY", "True", "-p", "SINCE", "2026-01-10", "--only", "[ab]"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "a.ipynb" in captured.out and "APPLY=True SINCE='2026-01-10' -> " in captured.out
    assert "b.ipynb" in captured.out and ") SINCE='2026-01-10' -> " in captured.out
    printed = [
        nbformat.read(out / name, as_version=4).cells[-1].outputs[0]["text"].strip()
        for name in ("a.ipynb", "b.ipynb")
    ]
    assert printed == ["True '2026-01-10'", "'2026-01-10'"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--only", "b", "-p", "APPLY", "True"], "parameter APPLY=True is not valid"),
        (["-p", "not a name", "1"], "parameter name='not a name' is not valid"),
        (["--only", "zzz*"], "--only='zzz*' is not valid: a name or glob matching one of a, b"),
        (["--in-place", "-p", "APPLY", "True"], "-p={'APPLY': True} is not valid"),
    ],
    ids=["declared-by-none", "bad-name", "only-matches-none", "in-place"],
)
def test_run_notebooks_refuses_before_running_anything(
    argv: list[str],
    said: str,
    db_url: str,
    use: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use(db_url)
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "a.ipynb", "print(APPLY)", parameters="APPLY = False")
    _notebook(folder / "b.ipynb", "print(1)")
    before = (folder / "a.ipynb").read_text()
    out = tmp_path / "out"
    assert main(["run-notebooks", "--notebooks", str(folder), "--output", str(out), *argv]) == 1
    assert said in capsys.readouterr().err
    assert not out.exists() and (folder / "a.ipynb").read_text() == before


def test_demo_when_not_interactive_writes_the_report_and_says_where(
    empty_url: str,
    use: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use(empty_url)
    monkeypatch.setenv("ATTUNE_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CI", "true")  # as under CI; pytest's stdin is no terminal either
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "a.ipynb", "import attune_nb\nprint(attune_nb.connect().executions.count())")
    assert main(["demo", "--executions", "400", "--notebooks", str(folder)]) == 0
    out = capsys.readouterr().out
    index = tmp_path / "home" / "report" / "index.html"
    assert "seeded 400 executions" in out and "instead of opening JupyterLab" in out
    assert out.splitlines()[-1] == f"1 passed, 0 failed; report: {index}"
    assert 'href="a.html"' in index.read_text()
    executed = nbformat.read(index.parent / "a.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "400"
    # --no-lab keeps its meaning: stop before JupyterLab, and before the report too
    assert main(["demo", "--no-lab", "--notebooks", str(folder)]) == 0
    assert "ready:" in capsys.readouterr().out


def test_run_notebooks_needs_notebooks(
    tmp_path: Path, db_url: str, use: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    use(db_url)
    assert (
        main(["run-notebooks", "--notebooks", str(tmp_path), "--output", str(tmp_path / "o")]) == 1
    )
    assert "a folder holding .ipynb files" in capsys.readouterr().err


def test_db_status_says_which_home_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("ATTUNE_DB_URL", raising=False)
    monkeypatch.delenv("ATTUNE_NB_HOME", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert main(["db", "status"]) == 3
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        f"home: {tmp_path / '.attune_nb'}",
        f"  chosen because: no .attune_nb yet: the root of the git checkout holding "
        f"{tmp_path / 'notebooks'}",
    ]
    assert "not created yet" in out
    assert not (tmp_path / "notebooks" / ".attune_nb").exists()


def test_export_writes_what_the_frame_holds_with_its_filters(
    db_url: str, use: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use(db_url)
    assert main(["seed", "--executions", "300", "--seed", "3"]) == 0
    capsys.readouterr()
    target = tmp_path / "failed.parquet"
    argv = ["export", str(target), "--status", "failed", "--status", "timeout", "--no-progress"]
    assert main([*argv, "--since", "2026-01-01", "--include", "result"]) == 0
    said = capsys.readouterr().out
    db = attune_nb.connect(db_url)
    try:
        expected = db.executions.frame(
            status=["failed", "timeout"], since="2026-01-01", include=["result"], limit=None
        )
        history = db.executions.history(int(expected["id"].iloc[0]))
    finally:
        db.close()
    written = pd.read_parquet(target)
    assert written["id"].tolist() == expected["id"].tolist() and len(expected) > 0
    assert list(written.columns) == list(expected.columns)
    assert f"{len(expected):,} executions as parquet" in said
    # An existing file is refused without --overwrite; nothing changes.
    before = target.read_bytes()
    assert main(argv) == 1
    assert "overwrite" in capsys.readouterr().err
    assert target.read_bytes() == before
    csv = tmp_path / "history.csv"
    assert main(["export", str(csv), "--what", "history", "--no-progress"]) == 0
    assert len(pd.read_csv(csv)) >= len(history)
