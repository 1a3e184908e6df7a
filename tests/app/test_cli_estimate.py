"""``judgelab estimate`` and ``judgelab plan`` on a database: human labels from the annotator page
(served by the random queue) are used, imported ones only when declared random; the JSON fields;
and on the Chatbot Arena data (when ../shared holds it) the issue's check: with 1,000 human labels
kept at random, the judge-assisted interval covers the win rate all human votes give, and is
narrower than the human-only one, for each of the three judges."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from analysis.judge_assisted import estimate
from annotation.accounts import add_user
from annotation.ingest import import_file
from annotation.label_frames import task_frames
from annotation.services import Services
from app import annotate
from app.cli import main
from tests.conftest import PROJECT_ROOT, SHARED_DATA, make_services

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
PASSWORD = "tulip-orbit-canyon-42"


def _sample_task(services: Services, tmp_path: Path) -> None:
    """The sample's 61 items: three annotators answer 30 items each on the page (overlap 1: 61 items
    reach at most one human each), a judge's verdicts on every item are imported, and one imported
    human labels file of unrecorded sampling."""
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    with services.session() as s:
        import_file(s, SAMPLE, task="t", overlap=1)
        for name in ("ann0", "ann1", "ann2"):
            add_user(s, name, role="annotator", password=PASSWORD)
    rng = random.Random(7)
    for name in ("ann0", "ann1", "ann2"):
        view = annotate.open_task(services, name, "t")
        for _ in range(15):
            if view.item_id is None:
                break
            view = annotate.submit(services, name, "t", view.item_id, rng.choice(view.choices[:3]))
    judge = tmp_path / "judge.jsonl"
    judge.write_text(
        "".join(
            json.dumps(
                {
                    "item_id": r["id"],
                    "annotator": "judge-x",
                    "annotator_kind": "llm_judge",
                    "value": r.get("expected") if r.get("expected") in ("A", "B") and rng.random() < 0.8 else "tie",
                }
            )
            + "\n"
            for r in rows
        ),
        encoding="utf-8",
    )
    imported = tmp_path / "humans.jsonl"
    imported.write_text(
        "".join(json.dumps({"item_id": r["id"], "annotator": "file-human", "value": "A"}) + "\n" for r in rows[:10]),
        encoding="utf-8",
    )
    with services.session() as s:
        import_file(s, judge, task="t", fmt="labels")
        import_file(s, imported, task="t", fmt="labels")


def _cli_json(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["--db", url, *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_estimate_and_plan_on_the_sample(
    tmp_path: Path, sqlite_services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    _sample_task(sqlite_services, tmp_path)
    url = sqlite_services.settings.database_url
    args = ["estimate", "--task", "t", "--judge", "judge-x", "--target", "win-rate:kestrel-7b"]
    out = _cli_json(capsys, url, *args)
    for key, fields in (
        ("human_only", ("estimate", "ci95", "n")),
        ("judge_only", ("estimate", "n")),
        ("ppi", ("estimate", "ci95", "n_human", "n_judge", "lambda")),
    ):
        assert all(f in out[key] for f in fields), (key, out[key])
    assert "effective_n_human" in out and "width_ratio" in out and out["counting"]
    assert out["selection"]["by_selection"] == {"queue": 45, "unrecorded": 10}
    assert out["selection"]["used"] == 45 and out["selection"]["left_out"] == 10
    assert any("left out" in w for w in out["selection"]["warnings"])
    assert out["ppi"]["n_human"] + out["ppi"]["n_judge"] == out["judge_only"]["n"]
    assert out["ppi"]["n_human"] <= 45 and out["ppi"]["ci95"][0] < out["ppi"]["estimate"] < out["ppi"]["ci95"][1]
    declared = _cli_json(capsys, url, *args, "--assume-random")
    assert declared["selection"]["used"] == 55
    plan = _cli_json(
        capsys, url, "plan", "--task", "t", "--judge", "judge-x", "--target", "win-rate:kestrel-7b", "--width", "0.3"
    )
    assert plan["human_only"]["n"] is None or plan["human_only"]["n"] >= 1
    assert set(plan["ppi"]) == {"n", "more"} and plan["n_human_now"] == out["ppi"]["n_human"]
    assert main(["--db", url, *args]) == 0
    assert "judge-assisted" in capsys.readouterr().out


ARENA = SHARED_DATA / "arena_ppr"


@pytest.mark.skipif(not (ARENA / "human.json").exists(), reason="../shared/data/arena_ppr is absent")
def test_arena_1000_human_labels_and_three_judges(tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    from bench_arena import write_files

    items, labels, _ = write_files(ARENA, tmp_path)
    services = make_services(f"sqlite:///{tmp_path / 'arena.db'}", tmp_path)
    with services.session() as s:
        import_file(s, items, task="arena")
        import_file(s, labels, task="arena", fmt="labels")
        frame, item_frame, _ = task_frames(s, "arena")
    services.close()
    for judge in ("gpt-4-0125-preview", "claude-3-opus-20240229", "gpt-3.5-turbo"):
        out = estimate(
            frame,
            item_frame,
            target="win-rate:gpt-4",
            judge=judge,
            assume_random=True,  # the Arena's votes are the users' own battles: declared, as a user would
            keep_humans=1000,
            seed=0,
        )
        check = out["hidden_check"]
        print(
            f"{judge}: all humans {check['all_humans_estimate']:.4f} (n={check['n_all_humans']}); "
            f"human-only {out['human_only']['estimate']:.4f} {out['human_only']['ci95']}; "
            f"PPI++ {out['ppi']['estimate']:.4f} {out['ppi']['ci95']} lambda {out['ppi']['lambda']:.3f}; "
            f"width ratio {out['width_ratio']:.3f}, effective n {out['effective_n_human']:.0f}"
        )
        assert check["kept_humans"] == 1000 and check["ppi_covers"] is True
        assert out["width_ratio"] < 1 and out["effective_n_human"] > 1000
