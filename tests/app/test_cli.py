"""The command line, run in-process over a real SQLite file (and a subprocess for the entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from tests.conftest import PROJECT_ROOT


def run(db: Path, *args: str) -> int:
    return main(["--db", str(db), *args])


def test_import_tasks_and_db_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    assert run(db, "import", str(PROJECT_ROOT / "data" / "sample_pairwise.jsonl"), "--task", "demo") == 0
    assert run(db, "tasks", "list") == 0
    assert run(db, "db", "check") == 0
    out = capsys.readouterr().out
    assert "61 items added" in out and "demo (pairwise): 61 items" in out and "database is healthy" in out


def test_bad_file_exits_2_with_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1, "prompt": "q", "response_a": "a"}) + "\n")
    assert run(tmp_path / "j.db", "import", str(bad), "--task", "t") == 2
    err = capsys.readouterr().err
    assert err.startswith("judgelab: error: ") and f"{bad}:1" in err and "'response_b'" in err and "Fix:" in err


def test_users_add_generates_a_password_shown_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    assert run(db, "users", "add", "rita", "--role", "researcher") == 0
    out = capsys.readouterr().out
    password = out.split("password (shown once): ")[1].strip()
    assert len(password) >= 12
    assert password.encode() not in db.read_bytes()
    assert run(db, "users", "list") == 0
    assert "rita\tresearcher" in capsys.readouterr().out


def test_users_add_reads_password_from_stdin(tmp_path: Path) -> None:
    env = {**os.environ, "JUDGELAB_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "add", "sam", "--role", "annotator", "--password-stdin"],
        input="a secret password\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "a secret password" not in proc.stdout + proc.stderr
    assert (tmp_path / "judgelab.db").exists()


def test_bad_database_url_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", "mysql://x/y", "tasks", "list"]) == 2
    assert "mysql://x/y" in capsys.readouterr().err
