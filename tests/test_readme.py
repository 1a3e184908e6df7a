"""The README teaches every command and every number: a CLI command, or a metric the report
computes, that the README does not mention fails this test (add it to the README, and here)."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pandas as pd

from analysis.report import build_report
from app.cli import build_parser
from tests.analysis.helpers import frame
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
NUMBERS = README[README.index("## What the numbers mean") :].split("\n## ", 1)[0]
META = {"task", "protocol", "n_items", "settings", "humans", "judges", "raters"}
# report key -> the words under "What the numbers mean" that explain it
TERMS = {
    "question": ["Questions and levels of measurement"],
    "human_agreement": ["Percent agreement, with ties", "Fleiss' kappa", "Krippendorff's alpha"],
    "with_ties": ["Percent agreement, with ties"],
    "without_ties": ["Percent agreement, without ties"],
    "majority": ["Pooled vs majority"],
    "alpha": ["Krippendorff's alpha"],
    "alpha_with_humans": ["Krippendorff's alpha"],
    "fleiss": ["Fleiss' kappa"],
    "kappa": ["Cohen's kappa"],
    "quadratic_kappa": ["Cohen's kappa", "quadratic"],
    "human_ceiling": ["Human ceiling"],
    "judges_vs_humans": ["Cohen's kappa"],
    "alt_test": ["Alternative annotator test", "winning rate", "advantage probability"],
    "confusion_vs_majority": ["confusion"],
    "failed_rate": ["Failed labels"],
    "n_failed": ["Failed labels"],
    "n_labels": ["`n`"],
    "score_correlations": ["Spearman, Kendall, Pearson, MAE"],
    "pairwise_matrix": ["rater x rater"],
    "bias": ["Position bias"],
    "position": ["Position bias"],
    "swap": ["Swap consistency and flip rate"],
    "length": ["Length bias"],
    "self_preference": ["Self-preference"],
    "leniency": ["Leniency"],
    "consistency": ["Transitivity"],
    "system": ["System ranking", "Bradley-Terry"],
    "calibration": ["Calibration", "ECE", "Brier"],
    "strata": ["stratum"],
    "vs_ceiling": ["Judge minus the human ceiling"],
    "estimates": ["Judge-assisted estimates", "PPI++", "effective human sample size"],
}


def _commands(parser: argparse.ArgumentParser, prefix: str = "judgelab") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}"
                inner = _commands(sub, path)
                out += inner or [path]
    return out


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 12  # the walk found the subcommands
    missing = [c for c in commands if not re.search(re.escape(c) + r"\b", README)]
    assert missing == [], f"commands the README does not show: {missing}"


def _reports() -> list[dict]:
    rng = np.random.default_rng(1)
    rows = [
        (i, name, ["A", "B", "tie"][rng.integers(0, 3)], "ab" if rng.random() < 0.5 else "ba")
        for i in range(60)
        for name in ("h1", "h2", "h3", "judge")
    ]
    labels = frame(rows)
    labels.loc[labels.annotator == "judge", "kind"] = "llm_judge"
    items = pd.DataFrame(
        {
            "item_id": range(60),
            "model_a": ["m1", "m2"] * 30,
            "model_b": ["m3", "m1"] * 30,
            "response_a": ["a" * i for i in range(60)],
            "response_b": ["bb"] * 60,
            "prompt": [f"p{i // 3}" for i in range(60)],
            "category": ["x", "y", "z"] * 20,
        }
    )
    pairwise = build_report(labels, items, n_boot=50, by="category")
    scores = frame([(i, n, str(rng.integers(1, 6)), "ab") for i in range(40) for n in ("h1", "h2", "h3", "judge")])
    scores.loc[scores.annotator == "judge", "kind"] = "llm_judge"
    single = build_report(scores, pd.DataFrame({"item_id": range(40)}), n_boot=50)
    return [pairwise.to_json(), single.to_json()]


def test_every_metric_of_the_report_is_explained_in_the_readme() -> None:
    keys: set[str] = set()
    for report in _reports():
        for key, value in report.items():
            if key in META:
                continue
            keys.add(key)
            if key in ("human_agreement", "bias"):
                keys |= set(value)
            if key == "judges_vs_humans":
                keys |= {k for section in value for k in section if k != "judge"}
    unmapped = sorted(keys - set(TERMS))
    assert unmapped == [], f"report keys with no README explanation mapped here: {unmapped}"
    lower = NUMBERS.lower() + README.lower()
    missing = sorted({t for k in keys for t in TERMS[k] if t.lower() not in lower})
    assert missing == [], f"README lacks: {missing}"
