"""The report on the real PandaLM data (../shared) against figures computed independently with
scikit-learn, statsmodels and krippendorff straight from the JSON files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from analysis.plots import all_figures
from analysis.report import build_report
from analysis.report_model import Report
from annotation.ingest import import_file
from annotation.label_frames import items_frame, labels_frame
from annotation.services import Services

MAP = {0: "tie", 1: "A", 2: "B", "0": "tie", "1": "A", "2": "B", "Tie": "tie"}


@pytest.fixture(scope="module")
def pandalm_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    from tests.conftest import SHARED_DATA, make_services

    path = SHARED_DATA / "pandalm"
    if not (path / "testset-v1.json").exists():
        pytest.skip("../shared/data/pandalm is absent")
    tmp = tmp_path_factory.mktemp("pandalm")
    services: Services = make_services(f"sqlite:///{tmp / 'p.db'}", tmp)
    with services.session() as s:
        for name in ("testset-v1.json", "gpt-3.5-turbo-testset-v1.json", "pandalm-7b-testset-v1.json"):
            import_file(s, path / name, task="pandalm")
    with services.session() as s:
        labels, items = labels_frame(s, 1), items_frame(s, 1)
    services.close()
    return build_report(labels, items, task="pandalm", n_boot=200), path


@pytest.fixture(scope="module")
def pandalm_json(pandalm_report: tuple[Report, Path]) -> tuple[dict, Path]:
    """The report as ``report --json`` prints it: the contract these checks read."""
    report, path = pandalm_report
    return report.to_json(), path


def test_report_matches_independent_computation(pandalm_json: tuple[dict, Path]) -> None:
    report, path = pandalm_json
    test = json.loads((path / "testset-v1.json").read_text())
    gpt = {r["idx"]: MAP.get(r["gpt_result"]) for r in json.loads((path / "gpt-3.5-turbo-testset-v1.json").read_text())}
    humans = np.array([[MAP[r[f"annotator{k}"]] for k in (1, 2, 3)] for r in test])
    codes = {"A": 0, "B": 1, "tie": 2}

    # humans: Fleiss (statsmodels), nominal alpha (krippendorff), pooled agreement (by hand)
    table, _ = aggregate_raters(np.vectorize(codes.get)(humans))
    assert report["human_agreement"]["fleiss"]["value"] == pytest.approx(sm_fleiss(table), abs=1e-9)
    alpha = krippendorff.alpha(
        reliability_data=np.vectorize(codes.get)(humans).T.astype(float), level_of_measurement="nominal"
    )
    assert report["human_agreement"]["alpha"]["value"] == pytest.approx(alpha, abs=1e-9)
    pairs = [(row[i], row[j]) for row in humans for i, j in itertools.combinations(range(3), 2)]
    assert report["human_agreement"]["with_ties"]["agreement"] == pytest.approx(np.mean([a == b for a, b in pairs]))
    assert report["human_agreement"]["with_ties"]["n"] == 2997

    # GPT-3.5 vs each human, pooled (25 failed labels excluded, never counted as a verdict)
    section = next(j for j in report["judges_vs_humans"] if j["judge"] == "gpt-3.5-turbo")
    assert section["n_failed"] == 25
    judge, human = [], []
    for row, hum in zip(test, humans, strict=True):
        if gpt[row["idx"]] is None:
            continue
        for h in hum:
            judge.append(gpt[row["idx"]])
            human.append(h)
    assert section["with_ties"]["n"] == len(judge) == 2922
    assert section["with_ties"]["agreement"] == pytest.approx(np.mean(np.array(judge) == np.array(human)))
    assert section["with_ties"]["kappa"] == pytest.approx(cohen_kappa_score(judge, human, labels=["A", "B", "tie"]))

    # against each leave-one-out majority of the humans in turn (two other humans: a majority of 2
    # votes needs them to agree; no-majority items dropped), pooled
    maj, jv = [], []
    for row, hum in zip(test, humans, strict=True):
        if gpt[row["idx"]] is None:
            continue
        for gone in range(len(hum)):
            others = [h for i, h in enumerate(hum) if i != gone]
            counts = pd.Series(others).value_counts()
            if len(others) < 2 or (len(counts) > 1 and counts.iloc[0] == counts.iloc[1]):
                continue
            maj.append(counts.index[0])
            jv.append(gpt[row["idx"]])
    assert section["majority"]["n"] == len(maj)
    assert section["majority"]["agreement"] == pytest.approx(np.mean(np.array(maj) == np.array(jv)))
    assert section["majority"]["kappa"] == pytest.approx(cohen_kappa_score(jv, maj, labels=["A", "B", "tie"]))


def test_report_is_json_and_draws(pandalm_report: tuple[Report, Path]) -> None:
    typed, _ = pandalm_report
    report = typed.to_json()
    json.dumps(report, allow_nan=False)
    assert Report.from_json(report) == typed  # the JSON round-trips to the same typed report
    figures = all_figures(typed)
    assert {
        "agreement_heatmap",
        "agreement_forest",
        "position_bias",
        "length_bias",
        "system_ranking",
        "confusion_gpt-3.5-turbo",
    } <= set(figures)
    heat = figures["agreement_heatmap"].to_dict()["data"][0]
    assert heat["x"] == report["pairwise_matrix"]["raters"] and len(heat["z"]) == 5
    alt = next(j for j in report["judges_vs_humans"] if j["judge"] == "pandalm-7b")["alt_test"]
    assert len(alt["humans"]) == 3 and 0 <= alt["advantage_probability"] <= 1
