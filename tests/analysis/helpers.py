"""Synthetic labels frames for analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUM = {"A": 1.0, "B": 0.0, "tie": 0.5, "bothbad": 0.5}


def frame(rows: list[tuple[object, str, str, str]], kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """rows of (item_id, annotator, value, presented_order)."""
    kinds = kinds or {}
    df = pd.DataFrame(rows, columns=["item_id", "annotator", "value", "presented_order"])
    df["kind"] = df["annotator"].map(lambda a: kinds.get(a, "llm_judge" if a.startswith("judge") else "human"))
    df["status"] = "submitted"
    df["value_num"] = df["value"].map(lambda v: NUM.get(v, float(v) if str(v).replace(".", "").isdigit() else np.nan))
    df["replicate"] = 0
    return df


def simulated_pairwise(
    n_items: int,
    raters: dict[str, float],
    rng: np.random.Generator,
    probs: tuple[float, float, float] = (0.45, 0.4, 0.15),
) -> pd.DataFrame:
    """Each rater reports the item's true class (A/B/tie, with ``probs``) with probability q, else a
    uniformly random class."""
    cats = np.array(["A", "B", "tie"])
    truth = rng.choice(3, size=n_items, p=probs)
    rows = []
    for name, q in raters.items():
        keep = rng.random(n_items) < q
        vote = np.where(keep, truth, rng.integers(0, 3, n_items))
        order = np.where(rng.random(n_items) < 0.5, "ab", "ba")
        rows += list(zip(range(n_items), [name] * n_items, cats[vote], order, strict=True))
    return frame(rows)


def true_agreement_and_kappa(q1: float, q2: float, probs: tuple[float, float, float]) -> tuple[float, float]:
    """Population agreement and Cohen's kappa of two such raters (exact joint distribution)."""
    p = np.asarray(probs)
    k = 3
    joint = np.zeros((k, k))
    for t in range(k):
        r1 = np.full(k, (1 - q1) / k)
        r1[t] += q1
        r2 = np.full(k, (1 - q2) / k)
        r2[t] += q2
        joint += p[t] * np.outer(r1, r2)
    po = np.trace(joint)
    pe = float(joint.sum(axis=1) @ joint.sum(axis=0))
    return float(po), float((po - pe) / (1 - pe))
