"""Consistency of a rater with itself (TrustJudge, Wang et al. 2025): transitivity over triples of
responses to one prompt, and agreement between pointwise scores and pairwise verdicts."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from analysis.errors import MetricUndefinedError
from analysis.frames import lookup
from contracts.vocab import PAIRWISE_NUMBERS, PAIRWISE_VALUES

# every weak ordering of three things, as ranks (lower = better)
_WEAK_ORDERS = [r for r in itertools.product(range(3), repeat=3) if set(r) == set(range(max(r) + 1))]


def _consistent(rel: dict[tuple[int, int], int]) -> bool:
    return any(all(np.sign(ranks[j] - ranks[i]) == r for (i, j), r in rel.items()) for ranks in _WEAK_ORDERS)


def _lookup() -> tuple[np.ndarray, np.ndarray]:
    """consistent[r_xy, r_yz, r_xz] and strict[...] for relations in {-1, 0, 1} (index r + 1)."""
    consistent = np.zeros((3, 3, 3), dtype=bool)
    strict = np.zeros((3, 3, 3), dtype=bool)
    for r_xy, r_yz, r_xz in itertools.product((-1, 0, 1), repeat=3):
        rel = {(0, 1): r_xy, (1, 2): r_yz, (0, 2): r_xz}
        consistent[r_xy + 1, r_yz + 1, r_xz + 1] = _consistent(rel)
        strict[r_xy + 1, r_yz + 1, r_xz + 1] = all(r != 0 for r in rel.values())
    return consistent, strict


_CONSISTENT, _STRICT = _lookup()


def transitivity(preferences: pd.DataFrame) -> dict[str, object]:
    """Transitivity violations among triples of responses to the same prompt.

    ``preferences``: one row per verdict with ``group`` (the prompt), ``model_a``, ``model_b`` and
    ``vote`` (A/B/tie/bothbad). A triple is a violation when no weak order explains its three
    verdicts: circular (A>B>C>A) or an equivalence contradiction (A=B, B=C, A>C). When one pair is
    judged twice in a group, the later verdict counts.
    """
    needed = {"group", "model_a", "model_b", "vote"}
    if not needed <= set(preferences.columns):
        raise MetricUndefinedError(f"transitivity needs columns {sorted(needed)}")
    p = preferences[preferences["vote"].isin(PAIRWISE_VALUES) & (preferences["model_a"] != preferences["model_b"])]
    # the preference's sign: +1 A, -1 B, 0 a tie (2 * PAIRWISE_NUMBERS - 1)
    rel = (lookup(p["vote"], PAIRWISE_NUMBERS) * 2 - 1).astype(int)
    numbered = all(pd.api.types.is_integer_dtype(p[c]) for c in ("model_a", "model_b"))  # models as codes
    a, b = (p[c].to_numpy() if numbered else p[c].astype(str).to_numpy() for c in ("model_a", "model_b"))
    swap = a > b
    edges = pd.DataFrame(
        {
            "group": p["group"].to_numpy(),
            "x": np.where(swap, b, a),
            "y": np.where(swap, a, b),
            "r": np.where(swap, -rel, rel),
        }
    ).drop_duplicates(["group", "x", "y"], keep="last")
    # triples x < y < z: edge (x, y) joined with edge (y, z) on the middle model, then edge (x, z)
    xy = edges.rename(columns={"r": "r_xy"})
    yz = edges.rename(columns={"x": "y", "y": "z", "r": "r_yz"})
    xz = edges.rename(columns={"y": "z", "r": "r_xz"})
    triples = xy.merge(yz, on=["group", "y"]).merge(xz, on=["group", "x", "z"])
    n = len(triples)
    if n == 0:
        return {"n_triples": 0, "circular": 0, "equivalence_contradictions": 0, "violation_rate": None}
    idx = (triples["r_xy"].to_numpy() + 1, triples["r_yz"].to_numpy() + 1, triples["r_xz"].to_numpy() + 1)
    bad = ~_CONSISTENT[idx]
    circular = int((bad & _STRICT[idx]).sum())
    equivalence = int((bad & ~_STRICT[idx]).sum())
    return {
        "n_triples": n,
        "circular": circular,
        "equivalence_contradictions": equivalence,
        "violation_rate": (circular + equivalence) / n,
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
