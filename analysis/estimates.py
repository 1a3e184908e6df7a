"""Judge-assisted estimates: what the humans would say about every item of a task, from the human
labels there are and a judge's labels on all items, by prediction-powered inference with power
tuning (PPI++: Angelopoulos, Duchi and Zrnic, "PPI++: Efficient Prediction-Powered Inference",
arXiv:2311.01453, 2023; PPI: Angelopoulos et al., Science 382, 2023), beside the human-only
estimate and the judge-only figure.

Setting: n items carry a human value ``y`` and the judge's value ``f``; N further items carry only
the judge's value ``f_unlabeled``. The estimand is the mean of the human value over the items.

- human-only: mean(y), 95% CI mean +- z sd(y) / sqrt(n) (the normal interval, sd with ddof 0);
- judge-only: the mean of the judge's values over all n + N items; it carries the judge's error
  (a bias of unknown size), so no interval is claimed;
- PPI++: theta = mean(lambda f_unlabeled) + mean(y - lambda f), lambda = Cov(y, f) /
  ((1 + n/N) Var(f)) clipped to [0, 1] (Var over all n + N judge values; lambda = 1 is plain PPI,
  lambda = 0 the human-only estimate); se^2 = Var(lambda f_unlabeled) / N + Var(y - lambda f) / n.
  Valid whatever the judge's quality, provided the human-labeled items are a random sample of the
  items (or weighted by the inverse of their known inclusion probabilities).

Weights ``w`` (inverse inclusion probabilities) are scaled to sum to n. Every formula is the one
``ppi_py`` (the authors' library) computes, to the last digit (tested against it as an oracle).
The effective human sample size is n (width_human / width_ppi)^2: how many human labels alone would
give the PPI interval's width. :func:`plan` inverts the same variance formulas for a target width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

F64 = NDArray[np.float64]
LEVEL = 0.95
# below this many human labels a normal interval's coverage is not claimed (the coverage test
# checks 100 and 1,000); an interval is also flagged when the humans' values do not vary
MIN_HUMANS = 30


def _z(level: float = LEVEL) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _weights(w: ArrayLike | None, n: int) -> F64:
    if w is None:
        return np.ones(n)
    arr = np.asarray(w, dtype=float)
    return arr / arr.sum() * n


@dataclass(frozen=True)
class Interval:
    estimate: float
    se: float
    low: float
    high: float
    n: int
    flag: str | None

    @property
    def width(self) -> float:
        return self.high - self.low


def _flag(n: int, spread: float) -> str | None:
    if n < MIN_HUMANS:
        return f"only {n} human-labeled items (coverage checked from {MIN_HUMANS})"
    if not spread > 0:
        return "the human values do not vary: the normal interval has no width to claim"
    return None


def human_only(y: ArrayLike, w: ArrayLike | None = None, level: float = LEVEL) -> Interval:
    """The mean of the human values with its normal 95% interval (ppi_py's ``classical_mean_ci``)."""
    arr = np.asarray(y, dtype=float)
    n = len(arr)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0, "no human-labeled items")
    weighted = _weights(w, n) * arr
    mean, se = float(weighted.mean()), float(weighted.std() / math.sqrt(n))
    half = _z(level) * se
    return Interval(mean, se, mean - half, mean + half, n, _flag(n, float(arr.std())))


def power_tuning(
    y: ArrayLike, f: ArrayLike, f_unlabeled: ArrayLike, w: ArrayLike | None = None, w_unlabeled: ArrayLike | None = None
) -> float:
    """PPI++'s lambda for a mean: the covariance of the human and judge values over the variance of
    the judge's, shrunk by 1 + n/N, clipped to [0, 1] (measured at the plain PPI estimate, as the
    authors' library measures it)."""
    y_, f_, fu = (np.asarray(a, dtype=float) for a in (y, f, f_unlabeled))
    n, big_n = len(y_), len(fu)
    w_, wu = _weights(w, n), _weights(w_unlabeled, big_n)
    theta = float((wu * fu).mean() + (w_ * (y_ - f_)).mean())
    grads, grads_hat = w_ * (y_ - theta), w_ * (f_ - theta)
    cov = float(((grads - grads.mean()) * (grads_hat - grads_hat.mean())).sum() / n)
    var = float(np.var(np.concatenate([grads_hat, wu * (fu - theta)]), ddof=1))
    if not var > 0:
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


def ppi(
    y: ArrayLike,
    f: ArrayLike,
    f_unlabeled: ArrayLike,
    *,
    w: ArrayLike | None = None,
    w_unlabeled: ArrayLike | None = None,
    lam: float | None = None,
    level: float = LEVEL,
) -> tuple[Interval, float]:
    """The PPI++ estimate of the mean human value and its 95% interval, and lambda (power-tuned
    unless given)."""
    y_, f_, fu = (np.asarray(a, dtype=float) for a in (y, f, f_unlabeled))
    n, big_n = len(y_), len(fu)
    if n == 0 or big_n == 0:
        flag = "no human-labeled items" if n == 0 else "no items without human labels: nothing to add"
        return Interval(math.nan, math.nan, math.nan, math.nan, n, flag), math.nan
    w_, wu = _weights(w, n), _weights(w_unlabeled, big_n)
    lam = power_tuning(y_, f_, fu, w, w_unlabeled) if lam is None else lam
    imputed, rectifier = wu * lam * fu, w_ * (y_ - lam * f_)
    estimate = float(imputed.mean() + rectifier.mean())
    se = math.sqrt(float(imputed.std()) ** 2 / big_n + float(rectifier.std()) ** 2 / n)
    half = _z(level) * se
    return Interval(estimate, se, estimate - half, estimate + half, n, _flag(n, float(y_.std()))), lam


def effective_n(n: int, human: Interval, assisted: Interval) -> float | None:
    """How many human labels alone would give the PPI interval's width: n (w_human / w_ppi)^2."""
    if not (human.width > 0 and assisted.width > 0):
        return None
    return n * (human.width / assisted.width) ** 2


@dataclass(frozen=True)
class Relation:
    """What the plan needs of the humans and the judge: the spread of the human values, of the
    judge's, and their covariance (measured on the items both labeled, or stated)."""

    sd_y: float
    sd_f: float
    cov: float

    @classmethod
    def measured(cls, y: ArrayLike, f: ArrayLike, f_all: ArrayLike) -> Relation:
        y_, f_ = np.asarray(y, dtype=float), np.asarray(f, dtype=float)
        cov = float(np.cov(y_, f_, ddof=0)[0, 1]) if len(y_) > 1 else 0.0
        return cls(float(y_.std()), float(np.asarray(f_all, dtype=float).std()), cov)

    @classmethod
    def stated(cls, sd_y: float, sd_f: float, correlation: float) -> Relation:
        return cls(sd_y, sd_f, correlation * sd_y * sd_f)


def ppi_width(relation: Relation, n: int, n_items: int, level: float = LEVEL) -> float:
    """The expected width of the PPI++ interval with n human-labeled items of ``n_items``."""
    big_n = n_items - n
    if n <= 0 or big_n <= 0:
        return math.inf
    var_f = relation.sd_f**2
    lam = 0.0 if var_f <= 0 else min(1.0, max(0.0, relation.cov / ((1 + n / big_n) * var_f)))
    rect = relation.sd_y**2 - 2 * lam * relation.cov + lam**2 * var_f
    return 2 * _z(level) * math.sqrt(max(rect, 0.0) / n + lam**2 * var_f / big_n)


def human_width(relation: Relation, n: int, level: float = LEVEL) -> float:
    return math.inf if n <= 0 else 2 * _z(level) * relation.sd_y / math.sqrt(n)


def plan(relation: Relation, n_items: int, width: float, level: float = LEVEL) -> dict[str, int | None]:
    """The fewest human-labeled items for an interval of ``width``: human-only (the normal interval)
    and judge-assisted (PPI++ with the judge on the other items); None when even every item of the
    task labeled by humans would not reach it."""
    need_h = math.ceil((2 * _z(level) * relation.sd_y / width) ** 2) if width > 0 else None
    human = need_h if need_h is not None and need_h <= n_items else None
    low, high = 1, n_items - 1
    if high < 1 or ppi_width(relation, high, n_items, level) > width:
        return {"human_only": human, "ppi": None}
    while low < high:  # the width falls as humans label more items
        mid = (low + high) // 2
        if ppi_width(relation, mid, n_items, level) <= width:
            high = mid
        else:
            low = mid + 1
    return {"human_only": human, "ppi": low}


def ppi_weighted(
    y: ArrayLike, f: ArrayLike, labeled: ArrayLike, probability: ArrayLike, *, level: float = LEVEL
) -> tuple[Interval, float]:
    """PPI++ when the human-labeled items were drawn with known, unequal probabilities (a label's
    ``inclusion_probability``), each item independently: the inverse-probability-weighted form of
    active inference (Zrnic and Candes, "Active Statistical Inference", ICML 2024). Over all M items
    the judge labeled, theta = mean of T_i = lambda f_i + xi_i (y_i - lambda f_i) / pi_i (xi_i = 1
    when humans labeled item i), se = sd(T) / sqrt(M); lambda minimizes the variance of T (clipped
    to [0, 1]). ``y`` and ``probability`` are read only where ``labeled``."""
    f_ = np.asarray(f, dtype=float)
    xi = np.asarray(labeled, dtype=bool)
    pi = np.where(xi, np.asarray(probability, dtype=float), 1.0)
    y_ = np.where(xi, np.asarray(y, dtype=float), 0.0)
    m, n = len(f_), int(xi.sum())
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, math.nan, 0, "no human-labeled items"), math.nan
    base, slope = xi * y_ / pi, f_ * (1 - xi / pi)  # T = base + lambda * slope
    var_slope = float(slope.var())
    lam = 0.0 if not var_slope > 0 else float(np.clip(-np.cov(base, slope, ddof=0)[0, 1] / var_slope, 0.0, 1.0))
    terms = base + lam * slope
    estimate, se = float(terms.mean()), float(terms.std() / math.sqrt(m))
    half = _z(level) * se
    return Interval(estimate, se, estimate - half, estimate + half, n, _flag(n, float(y_[xi].std()))), lam
