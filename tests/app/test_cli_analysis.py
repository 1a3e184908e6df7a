"""``judgelab agreement`` and ``judgelab report`` over a real SQLite database of MT-Bench-format votes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.analysis.test_agreement_frames import fastchat_style
from tests.mtbench_data import synthetic_votes


@pytest.fixture
def mt_db(tmp_path: Path) -> tuple[Path, list[dict]]:
    votes = synthetic_votes(seed=3, n_questions=15)
    path = tmp_path / "mt.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in votes))
    db = tmp_path / "mt.db"
    assert main(["--db", str(db), "import", str(path), "--task", "mt"]) == 0
    return db, votes


@pytest.mark.parametrize("no_ties", [False, True])
def test_agreement_json_reproduces_mtbench_by_turn(
    mt_db: tuple[Path, list[dict]], no_ties: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    db, votes = mt_db
    capsys.readouterr()
    for judge, sel in (("gpt-4/pair-v2", "name:gpt-4/pair-v2"), ("human", "name:expert_*")):
        args = [
            "--db",
            str(db),
            "agreement",
            "--task",
            "mt",
            "--a",
            sel,
            "--b",
            "name:expert_*",
            "--by",
            "turn",
            "--json",
            "--n-boot",
            "50",
        ] + (["--no-ties"] if no_ties else [])
        assert main(args) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["turn"] for r in rows] == [1, 2]
        for row in rows:
            agree, total = fastchat_style(votes, judge, no_ties, row["turn"])
            assert row["n"] == total
            assert row["agreement"] == pytest.approx(agree / total, abs=1e-12)
            assert {"n_items", "agreement_ci95", "kappa"} <= set(row)
            lo, hi = row["agreement_ci95"]
            assert lo <= row["agreement"] <= hi


def test_report_json_and_text(mt_db: tuple[Path, list[dict]], capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = mt_db
    capsys.readouterr()
    assert main(["--db", str(db), "report", "--task", "mt", "--json", "--n-boot", "50", "--by", "turn"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["judges"] == ["gpt-4/pair-v2"]
    assert {r["turn"] for r in report["strata"]["rows"]} == {1, 2}
    assert main(["--db", str(db), "report", "--task", "mt", "--n-boot", "50", "--by", "turn"]) == 0
    text = capsys.readouterr().out
    assert "judge gpt-4/pair-v2" in text and "position bias" in text
    # every section of the JSON, in words (issue 16, 14): leniency, rankings and their correlation,
    # strata with the heterogeneity test, the disagreement count
    assert "leniency (judge minus humans):" in text and "system ranking by the humans" in text
    assert "vs the humans' ranking" in text and "Kendall tau" in text
    assert "agreement by turn" in text and "heterogeneity gpt-4/pair-v2" in text
    assert "disagreements of gpt-4/pair-v2 with the human majority" in text


def test_agreement_errors_are_one_clear_line(
    mt_db: tuple[Path, list[dict]], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = mt_db
    assert main(["--db", str(db), "agreement", "--task", "mt", "--a", "name:nobody*", "--b", "kind:human"]) == 2
    assert "matches no annotator" in capsys.readouterr().err
    assert main(["--db", str(db), "agreement", "--task", "nope", "--a", "kind:human", "--b", "kind:human"]) == 2
    assert "no task named 'nope'" in capsys.readouterr().err
    assert (
        main(["--db", str(db), "agreement", "--task", "mt", "--a", "kind:human", "--b", "kind:human", "--by", "colour"])
        == 2
    )
    assert "cannot stratify by 'colour'" in capsys.readouterr().err


def test_mtbench_report_resamples_questions_and_cluster_none_resamples_items(
    mt_db: tuple[Path, list[dict]], capsys: pytest.CaptureFixture[str]
) -> None:
    """On MT-Bench-format data the unit is the question (8 items per question here): named in the
    report's settings and in every agreement block; --cluster none gives the item-level intervals,
    drawn exactly as a plain item Resampler with the same seed draws them."""
    from analysis.agreement import agreement
    from analysis.frames import collapse
    from analysis.resampling import Resampler
    from annotation.label_frames import task_frames
    from tests.conftest import make_services

    db, _ = mt_db
    capsys.readouterr()
    by_unit = {}
    for cluster in ("auto", "none"):
        args = ["--db", str(db), "report", "--task", "mt", "--json", "--n-boot", "300", "--cluster", cluster]
        assert main(args) == 0
        by_unit[cluster] = json.loads(capsys.readouterr().out)
    clustered, items_only = by_unit["auto"], by_unit["none"]
    assert clustered["settings"]["resampling_unit"] == "question_id"
    assert clustered["settings"]["n_resampling_units"] == 15
    assert "question_id-level" in clustered["settings"]["ci"]
    assert items_only["settings"]["resampling_unit"] == "item"
    judge_q = clustered["judges_vs_humans"][0]["with_ties"]
    judge_i = items_only["judges_vs_humans"][0]["with_ties"]
    assert (judge_q["resampling_unit"], judge_i["resampling_unit"]) == ("question_id", "item")
    assert judge_q["agreement"] == judge_i["agreement"]  # the unit changes the interval, not the figure
    services = make_services(f"sqlite:///{db}", db.parent)
    with services.session() as s:
        labels, _, _ = task_frames(s, "mt")
    services.close()
    rs = Resampler.create(labels["item_id"].to_numpy(), n_boot=300, seed=0)
    plain = agreement(collapse(labels), ["gpt-4/pair-v2"], "kind:human", n_boot=300, seed=0, resampler=rs)
    assert judge_i["agreement_ci95"] == pytest.approx(list(plain.agreement_ci95), abs=1e-12)
    assert main(["--db", str(db), "report", "--task", "mt", "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "CIs: 95%, question_id-level bootstrap" in out
    # 15 questions are too few units for the bootstrap's coverage claim: the text says which intervals
    assert "flagged intervals (" in out and "few units: 15 resampling units" in out


def test_orders_rule_counts_a_judge_in_both_orders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A judge labeled in both orders: --orders each pools both orders as separate comparisons
    (n = 2 x the combined n), first keeps the ab order, combined one vote per item; every output
    names the rule."""
    from annotation.judges.config import parse_config
    from annotation.judges.runner import run_judge
    from tests.conftest import PROJECT_ROOT, make_services

    sample = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
    db = tmp_path / "o.db"
    assert main(["--db", str(db), "import", str(sample), "--task", "t"]) == 0
    ids = [json.loads(line)["id"] for line in sample.read_text().splitlines()][:20]
    rows = [
        {"item_id": item, "annotator": f"h{h}", "value": ("A", "B", "tie")[(n + h) % 3]}
        for n, item in enumerate(ids)
        for h in range(3)
    ]
    labels_file = tmp_path / "labels.jsonl"
    labels_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--db", str(db), "import", str(labels_file), "--task", "t", "--format", "labels"]) == 0
    services = make_services(f"sqlite:///{db}", tmp_path)
    config = parse_config({"backend": "fake", "model": "m", "name": "fake", "swap": True, "answers": ["A", "B", "C"]})
    run_judge(services, task="t", config=config, progress=False)
    services.close()
    capsys.readouterr()
    n = {}
    for rule in ("combined", "each", "first"):
        args = ["--db", str(db), "agreement", "--task", "t", "--a", "fake", "--b", "kind:human", "--json"]
        assert main([*args, "--orders", rule, "--n-boot", "50"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["orders"] == rule
        n[rule] = row["n"]
    assert n["combined"] == 60 and n["each"] == 120 and n["first"] == 60
    assert main(["--db", str(db), "report", "--task", "t", "--json", "--orders", "each", "--n-boot", "50"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["orders"] == "each"
    judge = report["judges_vs_humans"][0]["with_ties"]
    assert (judge["orders"], judge["n"]) == ("each", 120)
