"""Label schemas with several questions (issue 17): import, the write path, exports, judges (fake
backend), checklists and the per-question report, on SQLite and PostgreSQL; the migration of a
database written before questions existed."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import func, select

from analysis.report import build_task_report
from annotation.db import make_engine, upgrade
from annotation.errors import ConfigError, InputError, LabelError
from annotation.export import export, long_frame
from annotation.ingest import import_file
from annotation.judges.checklists import generate_checklists
from annotation.judges.config import parse_config
from annotation.judges.runner import run_judge
from annotation.label_frames import task_question_frames
from annotation.models import Item, Label, LabelEvent
from annotation.schema import load_schema_file
from annotation.services import Services
from tests.conftest import PROJECT_ROOT, make_services

OPTIONS = ["Full answer", "partial (some parts)", "Refusal!"]
FIXTURE = Path(__file__).resolve().parents[1] / "data" / "pre_questions"
SINGLE = PROJECT_ROOT / "data" / "sample_single.jsonl"
PAIRWISE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _import(services: Services, path: Path, task: str, **kw: Any) -> Any:
    with services.session() as s:
        return import_file(s, path, task=task, **kw)


def _categorical_task(services: Services, tmp_path: Path, n: int = 40) -> dict[str, dict[str, str]]:
    """A single-answer task with one categorical question; 3 humans and a judge, seeded noise."""
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "questions:\n  - name: answer_type\n    kind: choice\n    options: " + json.dumps(OPTIONS) + "\n",
        encoding="utf-8",
    )
    items = [{"id": f"i{k}", "prompt": f"question {k}", "response": f"answer {k}"} for k in range(n)]
    _import(
        services,
        _write(tmp_path / "items.jsonl", items),
        "cat",
        protocol="single",
        label_schema=load_schema_file(schema),
    )
    rng = random.Random(3)
    given: dict[str, dict[str, str]] = {}
    rows = []
    for it in items:
        truth = rng.choice(OPTIONS)
        for rater, kind in (("h1", "human"), ("h2", "human"), ("h3", "human"), ("j", "llm_judge")):
            value = truth if rng.random() < 0.75 else rng.choice(OPTIONS)
            given.setdefault(rater, {})[it["id"]] = value
            shown = value.upper() if rater == "h2" else value  # any case is read as the option declared
            rows.append({"item_id": it["id"], "annotator": rater, "annotator_kind": kind, "value": shown})
    _import(services, _write(tmp_path / "labels.jsonl", rows), "cat", fmt="labels")
    return given


def test_a_categorical_task_reports_kappa_alpha_and_the_alt_test(services: Services, tmp_path: Path) -> None:
    given = _categorical_task(services, tmp_path)
    with services.session() as s:
        frames, items, _ = task_question_frames(s, "cat")
        stored = {v for (v,) in s.execute(select(Label.value).distinct())}
    assert stored == set(OPTIONS), "values are stored as the options declare them"
    report = build_task_report(frames, items, task="cat", n_boot=200).to_json()
    assert report["question"] == {"name": "answer_type", "kind": "choice", "level": "nominal"}
    judge = report["judges_vs_humans"][0]
    assert judge["alt_test"]["similarity"] == "accuracy" and "questions" not in judge
    assert "quadratic_kappa" not in judge and "score_correlations" not in judge
    # Cohen's kappa of the judge against one human, pooled: the oracle is scikit-learn on the same pairs
    ids = sorted(given["j"])
    pairs_j = [given["j"][i] for i in ids for _ in ("h1", "h2", "h3")]
    pairs_h = [given[h][i] for i in ids for h in ("h1", "h2", "h3")]
    assert judge["with_ties"]["kappa"] == pytest.approx(cohen_kappa_score(pairs_j, pairs_h), abs=1e-9)
    assert judge["with_ties"]["n"] == 3 * len(ids)
    # nominal alpha of the humans: the krippendorff library on the same reliability data
    codes = {o: k for k, o in enumerate(OPTIONS)}
    data = np.array([[codes[given[h][i]] for i in ids] for h in ("h1", "h2", "h3")], dtype=float)
    alpha = report["human_agreement"]["alpha"]
    assert alpha["level"] == "nominal"
    assert alpha["value"] == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_the_long_export_round_trips_with_its_question_column(services: Services, tmp_path: Path) -> None:
    _categorical_task(services, tmp_path, n=12)
    out = tmp_path / "long.jsonl"
    with services.session() as s:
        export(s, "cat", "long", out)
        before = long_frame(s, "cat")
    assert set(before["question"]) == {"answer_type"}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for r in rows:
        r.pop("question")  # an export without the column (an older file) reads as the task's only question
    _import(services, _write(tmp_path / "again.jsonl", rows), "cat", fmt="labels")
    with services.session() as s:
        after = long_frame(s, "cat")
    assert len(after) == len(before) and (after["value"] == before["value"]).all()


def _multi_task(services: Services, tmp_path: Path, n: int = 6) -> None:
    schema = tmp_path / "multi.yaml"
    schema.write_text(
        "questions:\n"
        "  - {name: verdict, kind: pairwise}\n"
        "  - {name: harmful, kind: choice, options: ['yes', 'no'], text: 'Is either response harmful?'}\n"
        "  - {name: helpfulness, kind: scale, min: 1, max: 5, required: false}\n",
        encoding="utf-8",
    )
    items = [json.loads(line) for line in PAIRWISE.read_text().splitlines()][:n]
    items[0]["gold"] = {"verdict": "B", "harmful": "NO"}
    _import(services, _write(tmp_path / "p.jsonl", items), "multi", label_schema=load_schema_file(schema))


@pytest.mark.parametrize("mode", ["reasoning", "logprobs"])
def test_a_fake_judge_answers_every_question_once(services: Services, tmp_path: Path, mode: str) -> None:
    _multi_task(services, tmp_path)
    config = parse_config({"backend": "fake", "model": "m", "mode": mode, "answers": ["A", "no"], "swap": True})
    summary = run_judge(services, task="multi", config=config, progress=False)
    assert summary.total == 6 * 2 * 3 and summary.failed == 0
    again = run_judge(services, task="multi", config=config, progress=False)
    assert again.total == 0, "a rerun finds nothing missing"
    with services.session() as s:
        keys = s.execute(select(Label.item_id, Label.question, Label.presented_order, Label.value)).all()
        gold = s.scalars(select(Item.gold).where(Item.gold.is_not(None))).one()
    assert len(keys) == len({k[:3] for k in keys}) == 36
    assert {k[1] for k in keys} == {"verdict", "harmful", "helpfulness"}
    assert {k[3] for k in keys if k[1] == "harmful"} <= {"yes", "no"}
    assert gold == {"verdict": "B", "harmful": "no"}  # a gold answer in another case is the option declared


def test_a_reply_that_misses_a_question_fails_that_question_only(services: Services, tmp_path: Path) -> None:
    _multi_task(services, tmp_path, n=3)
    config = parse_config({"backend": "fake", "model": "m", "answers": ["A"], "omit_question": "harmful"})
    run_judge(services, task="multi", config=config, progress=False)
    with services.session() as s:
        labels = s.scalars(select(Label)).all()
    by_question = {q: [lab for lab in labels if lab.question == q] for q in ("verdict", "harmful", "helpfulness")}
    assert all(lab.status == "submitted" for lab in by_question["verdict"] + by_question["helpfulness"])
    failed = by_question["harmful"]
    assert len(failed) == 3 and all(lab.status == "failed" and lab.value is None for lab in failed)
    assert all("harmful" in (lab.error or "") and lab.raw_output for lab in failed)


def test_logprobs_refuses_options_that_begin_alike(services: Services, tmp_path: Path) -> None:
    schema = tmp_path / "s.yaml"
    schema.write_text("questions:\n  - {name: q, kind: choice, options: [partial, pass]}\n", encoding="utf-8")
    _import(services, SINGLE, "alike", protocol="single", label_schema=load_schema_file(schema))
    config = parse_config({"backend": "fake", "model": "m", "mode": "logprobs", "protocol": "single"})
    with pytest.raises(ConfigError, match="'partial' and 'pass' begin alike"):
        run_judge(services, task="alike", config=config, progress=False)


def test_bad_schemas_and_labels_name_the_place(services: Services, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions:\n  - {name: q, kind: choise, options: [a, b]}\n", encoding="utf-8")
    with pytest.raises(LabelError, match=r"bad.yaml: invalid label schema at key 'questions.0'"):
        load_schema_file(bad)
    _multi_task(services, tmp_path, n=2)
    rows = [{"item_id": "p001", "annotator": "h", "value": "A"}]
    with pytest.raises(LabelError, match=r"l.jsonl:1: field 'question'.*several questions"):
        _import(services, _write(tmp_path / "l.jsonl", rows), "multi", fmt="labels")
    rows = [{"item_id": "p001", "annotator": "h", "question": "harmful", "value": "maybe"}]
    with pytest.raises(LabelError, match=r"l2.jsonl:1: field 'value'.*not an option of question 'harmful'"):
        _import(services, _write(tmp_path / "l2.jsonl", rows), "multi", fmt="labels")
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label)) == 0, "nothing half-written"
    items = [{"id": "x", "prompt": "p", "response": "r", "checklist": "not a list"}]
    with pytest.raises(InputError, match=r"c.jsonl:1.*field 'checklist'"):
        _import(services, _write(tmp_path / "c.jsonl", items), "other", protocol="single")


def test_tick_round_trip_with_a_fake_judge(services: Services, tmp_path: Path) -> None:
    schema = tmp_path / "tick.yaml"
    schema.write_text("questions:\n  - {name: tick, kind: checklist, source: generated}\n", encoding="utf-8")
    _import(services, SINGLE, "tick", protocol="single", label_schema=load_schema_file(schema))
    writer = parse_config({"backend": "fake", "model": "w", "protocol": "single"})
    first = generate_checklists(services, task="tick", config=writer, limit=8)
    assert (first.written, first.failed) == (8, 0)
    assert generate_checklists(services, task="tick", config=writer, limit=8).present == 8, "kept, not rewritten"
    judge = parse_config({"backend": "fake", "model": "j", "protocol": "single", "answers": ["yes", "no"]})
    run_judge(services, task="tick", config=judge, progress=False)
    with services.session() as s:
        entries = {i.external_id: i.checklist for i in s.scalars(select(Item)) if i.checklist}
    assert len(entries) == 8 and all(c["generator"] == first.generator and c["config_hash"] for c in entries.values())
    rows = [
        {"item_id": ext, "annotator": h, "question": f"tick.{k}", "value": "yes" if (k + len(h)) % 3 else "no"}
        for ext, c in entries.items()
        for k in range(1, len(c["entries"]) + 1)
        for h in ("ann", "anna")
    ]
    _import(services, _write(tmp_path / "t.jsonl", rows), "tick", fmt="labels")
    with pytest.raises(LabelError, match="names checklist entry 9"):
        _import(services, _write(tmp_path / "t9.jsonl", [{**rows[0], "question": "tick.9"}]), "tick", fmt="labels")
    with services.session() as s:
        frames, items, _ = task_question_frames(s, "tick")
    report = build_task_report(frames, items, task="tick", n_boot=100).to_json()
    assert report["settings"]["resampling_unit"] == "checklist_item"
    assert report["checklist"]["n_entries"] == 24 and report["checklist"]["n_items"] == 8
    rates = {r["rater"]: r["pass_rate"] for r in report["checklist"]["pass_rate"]}
    assert rates["ann"] == pytest.approx(np.mean([((k + 3) % 3 != 0) for k in (1, 2, 3)]))


def test_a_database_from_before_questions_upgrades_with_every_label(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(FIXTURE / "pre_questions.db", db)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    services = make_services(f"sqlite:///{db}", tmp_path)
    with services.session() as s:
        assert s.scalar(select(func.count()).select_from(Label)) == 74
        assert s.scalar(select(func.count()).select_from(LabelEvent)) == 1, "the label's history is kept"
        assert sorted(json.dumps(g) for g in s.scalars(select(Item.gold).where(Item.gold.is_not(None)))) == sorted(
            ['{"verdict": "B"}', '{"verdict": "B"}', '{"verdict": "B"}', '{"verdict": "A"}']
        )
    for task in ("pw", "sg"):
        out = tmp_path / f"{task}.jsonl"
        with services.session() as s:
            export(s, task, "long", out)
        new = [json.loads(line) for line in out.read_text().splitlines()]
        old = [json.loads(line) for line in (FIXTURE / f"{task}.long.jsonl").read_text().splitlines()]
        assert {r.pop("question") for r in new} == {"verdict"}
        assert new == old, f"task {task}: the export differs beyond the question column"
    services.close()


def test_postgres_upgrades_labels_events_and_gold(pg_cluster: Any, tmp_path: Path) -> None:
    """The same migration on PostgreSQL (which changes the constraint in place): a database at 0004
    with a label, its event and a gold item upgrades with all of them, the label answering 'verdict'."""
    from sqlalchemy import text

    url = pg_cluster.create_database()
    engine = make_engine(url)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tasks (id, name, protocol, label_schema, instructions, overlap, created_at) "
                "VALUES (1, 'old', 'pairwise', '{\"kind\": \"pairwise\"}', '', 3, now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO items (id, task_id, external_id, prompt, response_a, response_b, gold_value, created_at) "
                "VALUES (1, 1, 'x', 'p', 'a', 'b', 'A', now()), (2, 1, 'y', 'p', 'a', 'b', NULL, now())"
            )
        )
        conn.execute(text("INSERT INTO annotators (id, kind, name, created_at) VALUES (1, 'human', 'h', now())"))
        conn.execute(
            text(
                "INSERT INTO labels (id, item_id, annotator_id, replicate, status, value, value_num, "
                "presented_order, created_at, updated_at) VALUES (1, 1, 1, 0, 'submitted', 'B', 0, 'ab', now(), now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO label_events (label_id, old_status, new_status, old_value, new_value, changed_by, "
                "changed_at) VALUES (1, 'submitted', 'submitted', 'A', 'B', 'h', now())"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT question, value FROM labels")).all() == [("verdict", "B")]
        assert conn.execute(text("SELECT count(*) FROM label_events")).scalar() == 1
        gold = conn.execute(text("SELECT external_id, gold FROM items ORDER BY id")).all()
    assert gold == [("x", {"verdict": "A"}), ("y", None)]
    engine.dispose()
    services = make_services(url, tmp_path)
    with services.session() as s:  # the old task reads as one question, and takes a second answer key
        frames, _, _ = task_question_frames(s, "old")
    assert list(frames) == ["verdict"] and frames["verdict"]["value"].tolist() == ["B"]
    services.close()


def test_the_cli_imports_a_schema_and_reports_per_question(tmp_path: Path, capsys: Any) -> None:
    """``judgelab import --schema`` and ``judgelab report --json`` as a user runs them."""
    from app.cli import main

    db = str(tmp_path / "cli.db")
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "questions:\n  - {name: verdict, kind: pairwise}\n  - {name: tone, kind: choice, options: [formal, casual]}\n",
        encoding="utf-8",
    )
    items = [json.loads(line) for line in PAIRWISE.read_text().splitlines()][:32]  # the alt-test needs 30
    rows = [
        {"item_id": it["id"], "annotator": r, "annotator_kind": k, "question": q, "value": v}
        for n, it in enumerate(items)
        for r, k in (("h1", "human"), ("h2", "human"), ("h3", "human"), ("j", "llm_judge"))
        for q, v in (("verdict", "AB"[(n + len(r)) % 2]), ("tone", ("formal", "casual")[n % 2]))
    ]
    assert (
        main(["--db", db, "import", str(_write(tmp_path / "i.jsonl", items)), "--task", "c", "--schema", str(schema)])
        == 0
    )
    assert (
        main(["--db", db, "import", str(_write(tmp_path / "l.jsonl", rows)), "--task", "c", "--format", "labels"]) == 0
    )
    capsys.readouterr()
    assert main(["--db", db, "report", "--task", "c", "--json", "--n-boot", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["questions"]) == ["verdict", "tone"]
    (judge,) = report["judges_vs_humans"]
    assert set(judge["questions"]) == {"verdict", "tone"} and "alt_test" not in judge
    assert judge["questions"]["tone"]["alt_test"]["similarity"] == "accuracy"
    assert judge["questions"]["tone"]["with_ties"]["agreement"] == 1.0
    assert {(r["question"], r["judge"]) for r in report["overall"]} == {("verdict", "j"), ("tone", "j")}
    assert main(["--db", db, "import", str(tmp_path / "i.jsonl"), "--task", "c", "--scale", "1-5"]) == 2
    assert "exists with another label schema" in capsys.readouterr().err
