"""Consistency of a rater with itself (TrustJudge, Wang et al. 2025): transitivity over triples of
responses to one prompt, and agreement between pointwise scores and pairwise verdicts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from analysis.errors import MetricUndefinedError

# every weak ordering of three things, as ranks (lower = better)
_WEAK_ORDERS = [r for r in itertools.product(range(3), repeat=3) if set(r) == set(range(max(r) + 1))]


def _relation(vote: str) -> int:
    """+1: first better, -1: second better, 0: equivalent."""
    return {"A": 1, "B": -1, "tie": 0, "bothbad": 0}[vote]


def _consistent(rel: dict[tuple[int, int], int]) -> bool:
    for ranks in _WEAK_ORDERS:
        if all(np.sign(ranks[j] - ranks[i]) == r for (i, j), r in rel.items()):
            return True
    return False


def transitivity(preferences: pd.DataFrame) -> dict[str, object]:
    """Transitivity violations among triples of responses to the same prompt.

    ``preferences``: one row per verdict with ``group`` (the prompt), ``model_a``, ``model_b`` and
    ``vote`` (A/B/tie/bothbad). A triple is a violation when no weak order explains its three
    verdicts: circular (A>B>C>A) or an equivalence contradiction (A=B, B=C, A>C).
    """
    needed = {"group", "model_a", "model_b", "vote"}
    if not needed <= set(preferences.columns):
        raise MetricUndefinedError(f"transitivity needs columns {sorted(needed)}")
    triples = circular = equivalence = 0
    for _, grp in preferences.groupby("group"):
        edges: dict[tuple[str, str], int] = {}
        for a, b, vote in grp[["model_a", "model_b", "vote"]].itertuples(index=False):
            if vote not in ("A", "B", "tie", "bothbad") or a == b:
                continue
            r = _relation(vote)
            if a < b:
                edges[(a, b)] = r
            else:
                edges[(b, a)] = -r
        models = sorted({m for e in edges for m in e})
        for x, y, z in itertools.combinations(models, 3):
            pairs = {(0, 1): (x, y), (1, 2): (y, z), (0, 2): (x, z)}
            if not all(p in edges for p in pairs.values()):
                continue
            triples += 1
            rel = {k: edges[p] for k, p in pairs.items()}
            if _consistent(rel):
                continue
            strict = all(r != 0 for r in rel.values())
            circular += int(strict)
            equivalence += int(not strict)
    return {
        "n_triples": triples, "circular": circular, "equivalence_contradictions": equivalence,
        "violation_rate": (circular + equivalence) / triples if triples else None,
    }


def score_pairwise_inconsistency(scores: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, object]:
    """Share of pairwise verdicts where the response with the lower pointwise score wins.

    ``scores``: ``group, model, score`` (pointwise); ``pairs``: ``group, model_a, model_b, vote``.
    Counted over decisive verdicts on pairs whose two scores differ.
    """
    s = scores.groupby(["group", "model"])["score"].mean()
    merged = pairs.join(s.rename("score_a"), on=["group", "model_a"]).join(s.rename("score_b"), on=["group", "model_b"])
    merged = merged.dropna(subset=["score_a", "score_b"])
    merged = merged[(merged["score_a"] != merged["score_b"]) & merged["vote"].isin(["A", "B"])]
    if merged.empty:
        raise MetricUndefinedError("no pair has both pointwise scores (different) and a decisive verdict")
    lower_wins = ((merged["vote"] == "A") & (merged["score_a"] < merged["score_b"])) | (
        (merged["vote"] == "B") & (merged["score_b"] < merged["score_a"])
    )
    return {"n": len(merged), "inconsistency": float(lower_wins.mean())}
