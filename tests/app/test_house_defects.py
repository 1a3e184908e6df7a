"""The defects issue 13 found, each attacked the way a person meets it: through the CLI, the admin's
controls, the database and the report over real SQLite files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from analysis.report import build_report
from annotation.accounts import add_user
from annotation.errors import JudgelabError
from annotation.ingest import import_file
from annotation.label_frames import task_frames
from annotation.models import JudgeRun
from annotation.services import Services
from app import dashboard
from app.cli import main
from tests.conftest import PROJECT_ROOT, make_services

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"


@pytest.fixture
def labeled_db(tmp_path: Path) -> Path:
    """The sample task with three humans' labels (long format), each label with a 1-5 confidence."""
    db = tmp_path / "j.db"
    assert main(["--db", str(db), "import", str(SAMPLE), "--task", "t"]) == 0
    ids = [json.loads(line)["id"] for line in SAMPLE.read_text().splitlines()][:20]
    rows = []
    for n, item in enumerate(ids):
        for h in range(3):
            value = ("A", "B", "tie")[(n + (h == 2)) % 3]
            rows.append({"item_id": item, "annotator": f"h{h}", "value": value, "confidence": 1 + (n + h) % 5})
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--db", str(db), "import", str(labels), "--task", "t", "--format", "labels"]) == 0
    return db


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=PROJECT_ROOT,
        check=False,
        timeout=120,
    )


# ------------------------------------------------------------------ 1. confidence has a declared scale


def test_the_lowest_confidence_is_the_least_sure(labeled_db: Path) -> None:
    """A 1 on the 1-5 scale is the least sure (0 on [0, 1]), never a probability of 1; calibration
    reads the task's declared scale."""
    services = make_services(f"sqlite:///{labeled_db}", labeled_db.parent)
    try:
        with services.session() as session:
            labels, items, _ = task_frames(session, "t")
    finally:
        services.close()
    by_click = labels.groupby("confidence")["confidence_p"].unique().to_dict()
    assert {k: list(v) for k, v in by_click.items()} == {1.0: [0.0], 2.0: [0.25], 3.0: [0.5], 4.0: [0.75], 5.0: [1.0]}
    report = build_report(labels, items, task="t", n_boot=0)
    # h2 is scored against h0 and h1, who agree on every item (h0 against h1 and h2: no majority)
    assert "h0" not in report.calibration
    curve = report.calibration["h2"].curve
    # five clicks, five bins, in order: the curve's confidences are 0, .25, .5, .75, 1
    assert [round(b.confidence, 2) for b in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_confidence_off_the_declared_scale_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "j.db"
    assert main(["--db", str(db), "import", str(SAMPLE), "--task", "t"]) == 0
    item = json.loads(SAMPLE.read_text().splitlines()[0])["id"]
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"item_id": item, "annotator": "h", "value": "A", "confidence": 0.9}) + "\n")
    capsys.readouterr()
    assert main(["--db", str(db), "import", str(labels), "--task", "t", "--format", "labels"]) == 2
    err = capsys.readouterr().err
    assert f"{labels}:1" in err and "confidence" in err and "[1, 5]" in err and "Fix:" in err


# ------------------------------------------------------------------ 2. a bad JUDGELAB_* variable


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JUDGELAB_SQLITE_BUSY_TIMEOUT_MS", "soon"), ("JUDGELAB_DATABASE_URL", "mysql://x/y")],
)
def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    proc = _cli("tasks", "list", env={variable: value, "JUDGELAB_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("judgelab: error: ")
    assert variable in lines[0] and value in lines[0] and "Fix:" in lines[0]


# ------------------------------------------------------------------ 3 and 4. report arguments


def test_report_without_resamples_prints_figures_without_intervals(
    labeled_db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert main(["--db", str(labeled_db), "report", "--task", "t", "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "humans vs humans" in out and "with ties" in out and "[" not in out.split("humans vs humans")[1]
    html = tmp_path / "r.html"
    assert main(["--db", str(labeled_db), "report", "--task", "t", "--n-boot", "0", "--html", str(html)]) == 0
    assert html.stat().st_size > 0


def test_report_by_an_unknown_field_is_an_argument_error(labeled_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--db", str(labeled_db), "report", "--task", "t", "--by", "nosuchfield", "--n-boot", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("judgelab: error: ") and "nosuchfield" in err and "Fix: use one of" in err
    assert "'category'" in err  # the fields that do exist


# ------------------------------------------------------------------ 5. start judge says why it did not start


def test_start_judge_shows_and_records_why_it_did_not_start(sqlite_services: Services) -> None:
    with sqlite_services.session() as s:
        import_file(s, SAMPLE, task="t")
        add_user(s, "root", role="admin", password="tulip-orbit-canyon-42")
    config = "model: m\nprotocol: single\nbackend: openai\nbase_url: http://127.0.0.1:9/v1\n"
    sqlite_services.settings.web_judge_hosts = "127.0.0.1:9"  # the operator allows this judge server
    with pytest.raises(JudgelabError, match="pairwise but the judge's protocol is 'single'"):
        dashboard.start_judge(sqlite_services, "root", "t", config)
    with sqlite_services.session() as s:
        runs = s.scalars(select(JudgeRun)).all()
        assert [(r.status, "protocol" in (r.error or "")) for r in runs] == [("failed", True)]
    rows = dashboard.judge_runs(sqlite_services, "root", "t")
    assert rows[0][3] == "failed" and "protocol" in rows[0][9]


# ------------------------------------------------------------------ 6. one vocabulary of run statuses


def test_run_status_vocabulary_is_enforced_by_the_database(sqlite_services: Services) -> None:
    from sqlalchemy.exc import IntegrityError

    from annotation.catalog import ensure_annotator, get_task
    from contracts.vocab import RUN_STATUSES

    with sqlite_services.session() as s:
        import_file(s, SAMPLE, task="t")
        judge = ensure_annotator(s, "j", kind="llm_judge")
        task = get_task(s, "t")
        for status in RUN_STATUSES:
            s.add(JudgeRun(annotator_id=judge.id, task_id=task.id, status=status))
        ids = (judge.id, task.id)
    assert "cancelling" in RUN_STATUSES
    with pytest.raises(IntegrityError), sqlite_services.session() as s:
        s.add(JudgeRun(annotator_id=ids[0], task_id=ids[1], status="stopping"))


# ------------------------------------------------------------------ the one error path


def test_analysis_errors_reach_the_person_as_one_line_with_a_fix(
    labeled_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    args = ["--db", str(labeled_db), "agreement", "--task", "t", "--a", "name:nobody*", "--b", "kind:human"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("judgelab: error: selector 'name:nobody*' matches no annotator")
    assert "Fix: use name:GLOB" in err[0]


def test_every_expected_error_kind_has_one_message_shape() -> None:
    from pydantic import BaseModel, ValidationError

    from analysis.errors import ArgumentError, MetricUndefinedError
    from annotation.errors import ConfigError
    from app.messages import is_expected, message_for

    class Probe(BaseModel):
        n: int

    try:
        Probe.model_validate({"n": "many"})
    except ValidationError as exc:
        invalid = exc
    errors = [
        ConfigError("bad", value=1, fix="do this"),
        MetricUndefinedError("undefined here", fix="do that"),
        ArgumentError("bad argument", fix="use one of [1, 2]"),
        invalid,
    ]
    for exc in errors:
        assert is_expected(exc)
        assert "Fix: " in message_for(exc)
    assert "field 'n'" in message_for(invalid) and "'many'" in message_for(invalid)
    assert not is_expected(KeyError("a bug keeps its traceback"))
    with pytest.raises(TypeError):
        message_for(KeyError("x"))
