"""Item-level bootstrap, vectorized: every statistic here is a function of per-item additive sums,
so a resample is a weight vector over items and all resamples are one matrix product per chunk."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def resample_weights(n_items: int, n_boot: int, seed: int, chunk: int = 64) -> list[NDArray[np.float64]]:
    """Bootstrap weights: for each resample, how many times each item was drawn (rows sum to n_items).
    Returned in chunks of ``chunk`` resamples to bound memory."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        idx = rng.integers(0, n_items, size=(size, n_items))
        flat = idx + (np.arange(size) * n_items)[:, None]
        counts = np.bincount(flat.ravel(), minlength=size * n_items).reshape(size, n_items)
        out.append(counts.astype(np.float64))
    return out


def bootstrap_sums(per_item: Array, *, n_boot: int, seed: int) -> Array:
    """Resampled column sums of a (n_items x m) matrix: (n_boot x m)."""
    per_item = np.asarray(per_item, dtype=np.float64)
    if per_item.ndim == 1:
        per_item = per_item[:, None]
    return np.vstack([w @ per_item for w in resample_weights(per_item.shape[0], n_boot, seed)])


def percentile_ci(samples: Array, level: float = 0.95) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.quantile(finite, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def bootstrap_statistic(
    per_item: Array, statistic: Callable[[Array], Array], *, n_boot: int, seed: int, level: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """Point estimate and percentile CI of ``statistic`` (a vectorized function of column sums)."""
    point = float(statistic(np.asarray(per_item, dtype=np.float64).reshape(len(per_item), -1).sum(axis=0)[None, :])[0])
    if n_boot <= 0:
        return point, (float("nan"), float("nan"))
    samples = statistic(bootstrap_sums(per_item, n_boot=n_boot, seed=seed))
    return point, percentile_ci(np.asarray(samples, dtype=np.float64), level)
