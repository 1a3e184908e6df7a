"""Coverage of the judge-assisted estimates, by simulation (seeded): 500 data sets per setting with a
known human truth; the 95% intervals of the human-only and PPI++ estimates cover it 93-97% of the
time with a good judge and with a poor, biased one; the judge-only figure, given a naive interval,
does not when the judge is biased; the inverse-probability-weighted form (items drawn with known,
unequal chances) covers too. And `plan`: the number of human labels it gives for a width yields
intervals of that width on average (within 10%)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import estimates

RUNS = 500
M = 4000  # items the judge labeled
N_HUMAN = 300
P_TRUE = 0.6


def _population(rng: np.random.Generator, agree: float, lean: float) -> tuple[np.ndarray, np.ndarray]:
    """Human values (1, 0, or 1/2 for a tie) and a judge that agrees with probability ``agree``
    and otherwise answers 1 with probability ``lean`` (its bias)."""
    y = np.where(rng.random(M) < 0.1, 0.5, (rng.random(M) < P_TRUE / 0.9 - 0.05 / 0.9).astype(float))
    guess = (rng.random(M) < lean).astype(float)
    f = np.where(rng.random(M) < agree, y, guess)
    return y, f


def _truth() -> float:
    return 0.1 * 0.5 + 0.9 * (P_TRUE / 0.9 - 0.05 / 0.9)


@pytest.mark.parametrize(("agree", "lean"), [(0.9, 0.5), (0.4, 0.9)], ids=["good judge", "poor biased judge"])
def test_human_only_and_ppi_cover_95_percent_and_a_biased_judge_alone_does_not(agree: float, lean: float) -> None:
    rng = np.random.default_rng(19)
    truth = _truth()
    hits = {"human": 0, "ppi": 0, "judge": 0}
    widths = {"human": 0.0, "ppi": 0.0}
    for _ in range(RUNS):
        y, f = _population(rng, agree, lean)
        chosen = rng.permutation(M)[:N_HUMAN]
        rest = np.setdiff1d(np.arange(M), chosen)
        human = estimates.human_only(y[chosen])
        assisted, _ = estimates.ppi(y[chosen], f[chosen], f[rest])
        naive = estimates.human_only(f)  # the judge's labels alone, as if they were the humans'
        for name, iv in (("human", human), ("ppi", assisted), ("judge", naive)):
            hits[name] += iv.low <= truth <= iv.high
        widths["human"] += human.width / RUNS
        widths["ppi"] += assisted.width / RUNS
    coverage = {k: v / RUNS for k, v in hits.items()}
    print(f"agree {agree}, lean {lean}: coverage {coverage}, mean widths {widths}")
    assert 0.93 <= coverage["human"] <= 0.97
    assert 0.93 <= coverage["ppi"] <= 0.97
    if agree == 0.9:
        assert widths["ppi"] < 0.8 * widths["human"], "a good judge narrows the interval"
    else:
        assert coverage["judge"] < 0.5, "a biased judge alone misses the humans' answer"
        assert widths["ppi"] <= widths["human"] * 1.01, "a poor judge costs (almost) nothing"


def test_inverse_probability_weighted_ppi_covers_95_percent() -> None:
    """Items the judge calls 1 are three times as likely to reach humans (an active pick): the plain
    mean of the human labels is biased, the weighted forms are not."""
    rng = np.random.default_rng(20)
    truth = _truth()
    hits = {"weighted human": 0, "weighted ppi": 0, "unweighted human": 0}
    for _ in range(RUNS):
        y, f = _population(rng, 0.8, 0.5)
        pi = np.where(f == 1.0, 0.12, 0.04)
        xi = rng.random(M) < pi
        human, _ = estimates.ppi_weighted(np.where(xi, y, 0.0), np.zeros(M), xi, pi)
        assisted, _ = estimates.ppi_weighted(np.where(xi, y, 0.0), f, xi, pi)
        plain = estimates.human_only(y[xi])
        for name, iv in (("weighted human", human), ("weighted ppi", assisted), ("unweighted human", plain)):
            hits[name] += iv.low <= truth <= iv.high
    coverage = {k: v / RUNS for k, v in hits.items()}
    print(f"inverse-probability weighted coverage {coverage}")
    assert 0.93 <= coverage["weighted human"] <= 0.97
    assert 0.93 <= coverage["weighted ppi"] <= 0.97
    assert coverage["unweighted human"] < 0.8, "the unweighted mean of an active sample is biased"


def test_plan_gives_the_labels_a_width_needs() -> None:
    rng = np.random.default_rng(21)
    y, f = _population(rng, 0.85, 0.5)
    relation = estimates.Relation.measured(y, f, f)
    width = 0.06
    need = estimates.plan(relation, M, width)
    assert need["ppi"] is not None and need["human_only"] is not None
    assert need["ppi"] < need["human_only"]
    for key, n in (("ppi", need["ppi"]), ("human_only", need["human_only"])):
        seen = []
        for _ in range(300):
            y, f = _population(rng, 0.85, 0.5)
            chosen = rng.permutation(M)[:n]
            rest = np.setdiff1d(np.arange(M), chosen)
            iv = estimates.ppi(y[chosen], f[chosen], f[rest])[0] if key == "ppi" else estimates.human_only(y[chosen])
            seen.append(iv.width)
        mean = float(np.mean(seen))
        print(f"plan {key}: n={n}, mean width {mean:.4f} for {width}")
        assert abs(mean - width) <= 0.1 * width
