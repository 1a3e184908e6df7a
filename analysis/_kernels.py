"""The stacked kernels behind the bootstrap (private: the public metrics are in ``agreement`` and
``reliability``). Every judgelab statistic is a function of per-item additive sums, so a resample is a
matrix product of these per-item parts with the resampling counts, and the statistic is computed on
all resamples at once from the summed parts."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from analysis.errors import bad_argument

Level = Literal["nominal", "ordinal", "interval", "ratio"]
F64 = NDArray[np.float64]

# ------------------------------------------------------------------ tables


def cell_sums(rows: ArrayLike, columns: ArrayLike, shape: tuple[int, int], weights: ArrayLike | None = None) -> F64:
    """A (rows x columns) table of counts (or of ``weights``) at the given cells: what
    ``np.add.at(table, (rows, columns), weights)`` adds into zeros, in the same order (the same sums,
    to the last bit), by one ``np.bincount`` instead of ``ufunc.at``'s per-element loop.

    >>> cell_sums([0, 1, 1], [2, 0, 0], (2, 3)).tolist()
    [[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]]
    """
    flat = np.asarray(rows, dtype=np.int64) * shape[1] + np.asarray(columns, dtype=np.int64)
    counted = np.bincount(
        flat, weights=None if weights is None else np.asarray(weights, dtype=np.float64), minlength=shape[0] * shape[1]
    )
    return np.asarray(counted, dtype=np.float64).reshape(shape)


# ------------------------------------------------------------------ rates


def ratio(sums: F64) -> F64:
    """sums[:, 0] / sums[:, 1]: a rate from its ``[hits, trials]`` parts, per resample."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums[:, 0] / sums[:, 1], dtype=np.float64)


def difference_of_rates(sums: F64) -> F64:
    """sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3]: one rate minus another, per resample."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3], dtype=np.float64)


# ------------------------------------------------------------------ Fleiss' kappa


def fleiss_per_item(table: F64) -> F64:
    """Per-item additive parts: [P_i, 1, n_i1 .. n_ik, m_i]."""
    m = table.sum(axis=1)
    p_i = ((table**2).sum(axis=1) - m) / (m * (m - 1))
    return np.column_stack([p_i, np.ones(len(table)), table, m])


def fleiss_from_sums(sums: F64, k: int) -> F64:
    p_bar = sums[:, 0] / sums[:, 1]
    p_j = sums[:, 2 : 2 + k] / sums[:, 2 + k][:, None]
    p_e = (p_j**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((p_bar - p_e) / (1 - p_e), dtype=np.float64)


# ------------------------------------------------------------------ Krippendorff's alpha (coincidence matrices)


def coincidences(reliability_data: ArrayLike, values: F64) -> F64:
    """Per-unit coincidence matrices (units x k x k), Krippendorff's o_ck contributions."""
    data = np.asarray(reliability_data, dtype=np.float64)
    onehot = (data[:, :, None] == values[None, None, :]).astype(np.float64)  # raters x units x k
    n_uc = onehot.sum(axis=0)  # units x k
    m_u = n_uc.sum(axis=1)
    outer = n_uc[:, :, None] * n_uc[:, None, :] - np.einsum("uc,ck->uck", n_uc, np.eye(len(values)))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(m_u >= 2, 1.0 / (m_u - 1), 0.0)
    return np.asarray(outer * scale[:, None, None], dtype=np.float64)


def alpha_from_coincidence(o: F64, values: F64, *, level: Level) -> F64:
    """Alpha from coincidence matrices (..., k, k): 1 - D_o / D_e, with Krippendorff's metrics."""
    o = np.asarray(o, dtype=np.float64)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    v = np.asarray(values, dtype=np.float64)
    if level == "nominal":
        delta = np.broadcast_to((v[:, None] != v[None, :]).astype(np.float64), o.shape)
    elif level in ("interval", "ratio"):
        base = (v[:, None] - v[None, :]) ** 2
        if level == "ratio":
            with np.errstate(invalid="ignore", divide="ignore"):
                base = np.nan_to_num(((v[:, None] - v[None, :]) / (v[:, None] + v[None, :])) ** 2)
        delta = np.broadcast_to(base, o.shape)
    elif level == "ordinal":
        cums = np.cumsum(n_c, axis=-1)
        # delta_ck = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 for c <= k
        lo = np.minimum.outer(np.arange(len(v)), np.arange(len(v)))
        hi = np.maximum.outer(np.arange(len(v)), np.arange(len(v)))
        between = cums[..., hi] - np.where(lo > 0, cums[..., np.maximum(lo - 1, 0)], 0.0)
        delta = (between - (n_c[..., lo] + n_c[..., hi]) / 2) ** 2
    else:
        raise bad_argument("level", level, ["nominal", "ordinal", "interval", "ratio"])
    d_o = (o * delta).sum(axis=(-2, -1))
    d_e = (n_c[..., :, None] * n_c[..., None, :] * delta).sum(axis=(-2, -1)) / np.where(n > 1, n - 1, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(1.0 - d_o / d_e, dtype=np.float64)
