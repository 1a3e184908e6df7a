"""Judges against the real local vLLM server (CPU, SmolLM2-135M), started once per session.
The model is a weak judge: these tests check plumbing and formats, not judgement."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from annotation.ingest import import_file
from annotation.judges.config import parse_config
from annotation.judges.runner import run_judge
from annotation.models import JudgeRun, Label
from annotation.services import Services
from app.cli import main
from tests.conftest import PROJECT_ROOT
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.vllm
SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
SINGLE = PROJECT_ROOT / "data" / "sample_single.jsonl"


def _config(server: Any, **kw: Any):
    return parse_config({"model": server.model, "base_url": server.base_url, "concurrency": 8, **kw})


def _labels(services: Services, name_prefix: str = "") -> list[Label]:
    with services.session() as s:
        return list(s.scalars(select(Label).order_by(Label.item_id, Label.presented_order)))


def _import(services: Services, path: Path, task: str, **kw: Any) -> None:
    with services.session() as s:
        import_file(s, path, task=task, **kw)


def test_pairwise_logprobs_with_swap(sqlite_services: Services, vllm_server: Any) -> None:
    _import(sqlite_services, SAMPLE, "t")
    config = _config(vllm_server, name="smol-lp", mode="logprobs", swap=True)
    summary = run_judge(sqlite_services, task="t", config=config, limit=5, progress=False)
    assert (summary.total, summary.done + summary.failed) == (10, 10)
    labels = _labels(sqlite_services)
    assert sorted((lab.item_id, lab.presented_order) for lab in labels) == sorted(
        (i, o) for i in {lab.item_id for lab in labels} for o in ("ab", "ba")
    )
    for lab in labels:
        assert lab.status == "submitted" and lab.raw_output in ("A", "B", "C")
        flip = {"A": "B", "B": "A", "C": "tie"} if lab.presented_order == "ba" else {"A": "A", "B": "B", "C": "tie"}
        assert lab.value == flip[lab.raw_output]  # stored in the item's A/B frame
        assert lab.probabilities is not None and abs(sum(lab.probabilities.values()) - 1) < 1e-6
        assert max(lab.probabilities, key=lab.probabilities.get) == lab.value  # greedy = most likely option
        assert lab.judge_run_id == summary.run_id and lab.duration_ms is not None
    with sqlite_services.session() as s:
        run = s.get(JudgeRun, summary.run_id)
        assert run is not None and (run.status, run.n_done, run.n_failed) == ("finished", 10, 0)
        assert run.prompt_tokens > 0
    again = run_judge(sqlite_services, task="t", config=config, limit=5, progress=False)
    assert (again.total, again.skipped_existing) == (0, 10)  # resumable: nothing left to do


def test_single_reasoning_with_majority_of_samples(sqlite_services: Services, vllm_server: Any) -> None:
    _import(sqlite_services, SINGLE, "s", protocol="single")
    config = _config(
        vllm_server,
        protocol="single",
        mode="reasoning",
        sampling={"n": 3, "temperature": 0.8, "max_tokens": 80, "seed": 1},
    )
    summary = run_judge(sqlite_services, task="s", config=config, limit=3, progress=False)
    assert summary.done + summary.failed == 3
    for lab in _labels(sqlite_services):
        if lab.status == "submitted":
            samples = lab.meta["samples"]
            assert 1 <= len(samples) <= 3 and lab.value in {"1", "2", "3", "4", "5"}
            assert lab.value_num == float(lab.value)
        else:
            assert lab.value is None and lab.raw_output


def test_unparseable_output_is_failed_with_raw_text(sqlite_services: Services, vllm_server: Any) -> None:
    _import(sqlite_services, SAMPLE, "t")
    # unconstrained and cut to 2 tokens: no JSON verdict can come back
    config = _config(vllm_server, constrained="none", sampling={"max_tokens": 2})
    summary = run_judge(sqlite_services, task="t", config=config, limit=3, progress=False)
    assert (summary.done, summary.failed) == (0, 3)
    assert len(_labels(sqlite_services)) == 3
    for lab in _labels(sqlite_services):
        assert lab.status == "failed" and lab.value is None and lab.value_num is None
        assert lab.raw_output is not None and "no verdict" in (lab.error or "")


def test_faults_are_retried_within_bounds(sqlite_services: Services, vllm_server: Any) -> None:
    _import(sqlite_services, SAMPLE, "t")
    faults = ["500", "429", "cut", "garbage", "stall", "500", "cut", "garbage"]
    with FaultProxy(vllm_server.base_url, lambda n: faults[n] if n < len(faults) else "pass", stall_s=4) as proxy:
        config = parse_config(
            {
                "model": vllm_server.model,
                "base_url": proxy.base_url,
                "mode": "logprobs",
                "concurrency": 4,
                "timeout_s": 2.5,
                "max_retries": 4,
                "backoff_s": 0.05,
            }
        )
        summary = run_judge(sqlite_services, task="t", config=config, limit=6, progress=False)
    labels = _labels(sqlite_services)
    assert len(labels) == 6 and len({lab.item_id for lab in labels}) == 6  # no gap, no duplicate
    assert all(lab.status == "submitted" for lab in labels)
    assert summary.retries == len(faults)  # each injected fault cost exactly one retry
    assert proxy.count == 6 + len(faults)
    attempts = sum(lab.meta["attempts"] for lab in labels)
    assert attempts == proxy.count


def test_exhausted_retries_become_failed_labels(sqlite_services: Services, vllm_server: Any) -> None:
    _import(sqlite_services, SAMPLE, "t")
    with FaultProxy(vllm_server.base_url, lambda n: "500") as proxy:
        config = parse_config(
            {"model": vllm_server.model, "base_url": proxy.base_url, "max_retries": 2, "backoff_s": 0.01}
        )
        summary = run_judge(sqlite_services, task="t", config=config, limit=4, progress=False)
    assert (summary.done, summary.failed) == (0, 4)
    assert proxy.count == 4 * 3  # bounded: 1 try + 2 retries each
    for lab in _labels(sqlite_services):
        assert lab.status == "failed" and "gave up after 3 attempts" in (lab.error or "") and "HTTP 500" in lab.error


def test_killed_run_resumes_without_duplicates_or_gaps(tmp_path: Path, vllm_server: Any) -> None:
    db = tmp_path / "j.db"
    assert main(["--db", str(db), "import", str(SAMPLE), "--task", "t"]) == 0
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(
        f"model: {vllm_server.model}\nbase_url: {vllm_server.base_url}\nmode: logprobs\nswap: true\nconcurrency: 2\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "--db",
        str(db),
        "judge",
        "run",
        "--task",
        "t",
        "--config",
        str(cfg),
        "--limit",
        "10",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db) as conn:
                written = conn.execute("SELECT count(*) FROM labels").fetchone()[0]
        except sqlite3.OperationalError:
            written = 0
        if written >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert 3 <= written < 20
    rerun = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    with sqlite3.connect(db) as conn:
        keys = conn.execute("SELECT item_id, presented_order, count(*) FROM labels GROUP BY 1, 2").fetchall()
        runs = conn.execute("SELECT status FROM judge_runs ORDER BY id").fetchall()
    assert len(keys) == 20 and all(n == 1 for _, _, n in keys)
    assert runs[-1] == ("finished",)


def test_cli_run_then_report_shows_agreement_and_position_bias(
    tmp_path: Path, vllm_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "j.db"
    assert main(["--db", str(db), "import", str(SAMPLE), "--task", "t"]) == 0
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()][:6]
    humans = tmp_path / "humans.jsonl"
    humans.write_text(
        "".join(
            json.dumps({"item_id": r["id"], "annotator": f"h{k}", "value": r["expected"]}) + "\n"
            for r in rows
            for k in (1, 2, 3)
        )
    )
    assert main(["--db", str(db), "import", str(humans), "--task", "t", "--format", "labels"]) == 0
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(
        f"name: smol\nmodel: {vllm_server.model}\nbase_url: {vllm_server.base_url}\nmode: logprobs\nswap: true\n"
    )
    assert main(["--db", str(db), "judge", "run", "--task", "t", "--config", str(cfg), "--limit", "6", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "report", "--task", "t", "--json", "--n-boot", "100"]) == 0
    report = json.loads(capsys.readouterr().out)
    (judge,) = report["judges_vs_humans"]
    assert judge["judge"] == "smol" and judge["n_labels"] == 12
    assert judge["with_ties"]["n"] == 18 and judge["with_ties"]["n_items"] == 6
    position = {r["annotator"]: r for r in report["bias"]["position"]}
    swap = {r["annotator"]: r for r in report["bias"]["swap"]}
    assert swap["smol"]["n_items"] == 6
    assert "smol" in position or swap["smol"]["consistency"] >= 0  # position needs a decisive verdict
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM labels WHERE status='submitted'").fetchone()[0] >= 18


@pytest.mark.slow
def test_database_stopped_mid_run_then_rerun_completes(tmp_path: Path, vllm_server: Any, pg_cluster: Any) -> None:
    """PostgreSQL stops (fast shutdown) while the runner writes: the runner exits with a clear
    error instead of hanging or losing track; once the database is back, a rerun completes the task
    with every (item, order) judged exactly once. A cluster of its own: the session's keeps serving."""
    import psycopg

    from tests.pgcluster import start_cluster

    cluster = start_cluster()
    try:
        url = cluster.create_database()
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        few = tmp_path / "few.jsonl"  # 24 items x 2 orders: enough to stop the database mid-run
        few.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:24]), encoding="utf-8")
        assert main(["--db", url, "import", str(few), "--task", "t"]) == 0
        cfg = tmp_path / "judge.yaml"
        cfg.write_text(
            f"model: {vllm_server.model}\nbase_url: {vllm_server.base_url}\nmode: logprobs\nswap: true\n"
            "concurrency: 2\n"
        )
        cmd = [sys.executable, "-m", "app.cli", "--db", url, "judge", "run", "--task", "t", "--config", str(cfg)]
        cmd += ["--quiet"]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        written = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with psycopg.connect(dsn) as conn:
                written = conn.execute("SELECT count(*) FROM labels").fetchone()[0]  # type: ignore[index]
            if written >= 4:
                cluster.stop()
                break
            time.sleep(0.1)
        out, _ = proc.communicate(timeout=120)
        text = out.decode()
        assert 4 <= written < 48, "the run finished before the database could be stopped"
        assert proc.returncode == 2, text  # judgelab's exit status for an error it explains
        assert "the database stopped answering" in text and "rerun" in text, text
        assert "Traceback" not in text, text
        cluster.start()
        rerun = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        with psycopg.connect(dsn) as conn:
            keys = conn.execute("SELECT item_id, presented_order, count(*) FROM labels GROUP BY 1, 2").fetchall()
            runs = conn.execute("SELECT status FROM judge_runs ORDER BY id").fetchall()
        assert len(keys) == 48 and all(n == 1 for _, _, n in keys)  # 24 items x 2 orders
        assert runs[-1] == ("finished",)
    finally:
        cluster.cleanup()


def test_several_servers_share_the_work(sqlite_services: Services, vllm_server: Any) -> None:
    """Scale-out: a list of base URLs (here two proxies in front of the one local server, standing
    for two GPU servers); the runner spreads requests over both and labels everything once."""
    _import(sqlite_services, SAMPLE, "t")
    with (
        FaultProxy(vllm_server.base_url, lambda n: "pass") as one,
        FaultProxy(vllm_server.base_url, lambda n: "pass") as two,
    ):
        config = parse_config(
            {
                "model": vllm_server.model,
                "base_url": [one.base_url, two.base_url],
                "mode": "logprobs",
                "swap": True,
                "concurrency": 3,
            }
        )
        summary = run_judge(sqlite_services, task="t", config=config, limit=12, progress=False)
    labels = _labels(sqlite_services)
    assert summary.done == 24 and len({(lab.item_id, lab.presented_order) for lab in labels}) == 24
    assert one.count + two.count == 24
    assert min(one.count, two.count) >= 6, (one.count, two.count)  # both carried a fair share


QUESTIONS = """questions:
  - {name: verdict, kind: pairwise}
  - {name: harmful, kind: choice, options: ["yes", "no"]}
  - {name: helpfulness, kind: scale, min: 1, max: 5}
"""


@pytest.mark.parametrize("mode", ["reasoning", "logprobs"])
def test_several_questions_in_both_modes(
    sqlite_services: Services, vllm_server: Any, tmp_path: Path, mode: str
) -> None:
    from annotation.schema import load_schema_file

    schema = tmp_path / "q.yaml"
    schema.write_text(QUESTIONS, encoding="utf-8")
    _import(sqlite_services, SAMPLE, "q", label_schema=load_schema_file(schema))
    config = _config(vllm_server, name=f"smol-q-{mode}", mode=mode)
    summary = run_judge(sqlite_services, task="q", config=config, limit=2, progress=False)
    assert summary.total == 6 and summary.done + summary.failed == 6
    labels = _labels(sqlite_services)
    assert sorted((lab.item_id, lab.question) for lab in labels) == sorted(
        (i, q) for i in {lab.item_id for lab in labels} for q in ("verdict", "harmful", "helpfulness")
    ), "one label per question per item"
    options = {"verdict": {"A", "B", "tie"}, "harmful": {"yes", "no"}, "helpfulness": {"1", "2", "3", "4", "5"}}
    for lab in labels:
        assert lab.raw_output, "every label keeps the judge's output"
        if lab.status == "submitted":
            assert lab.value in options[lab.question]
        else:
            assert lab.value is None and lab.error
    from analysis.report import build_task_report
    from annotation.label_frames import task_question_frames

    with sqlite_services.session() as s:
        frames, items, _ = task_question_frames(s, "q")
    report = build_task_report(frames, items, task="q", n_boot=0).to_json()
    for name, part in report["questions"].items():  # reported question by question
        (section,) = part["judges_vs_humans"]
        assert part["question"]["name"] == name and section["n_labels"] == 2
