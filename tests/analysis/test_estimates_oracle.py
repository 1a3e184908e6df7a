"""The judge-assisted estimates against the authors' library, ppi_py (PyPI ``ppi-python``, a
test-only oracle): the same arrays give the same estimate, lambda and 95% interval to 1e-9, for
binary and score values, with and without weights, and with lambda fixed (plain PPI, human-only)."""

from __future__ import annotations

import numpy as np
import pytest
from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate

from analysis import estimates

CASES = [(200, 5000, "binary", False), (1000, 20000, "score", False), (150, 3000, "binary", True)]


def _data(n: int, big_n: int, kind: str, weighted: bool, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n + big_n) < 0.6 if kind == "binary" else rng.normal(3, 1, n + big_n)
    noise = rng.random(n + big_n) < 0.25
    judge = np.where(noise, 1 - truth, truth).astype(float) if kind == "binary" else truth + rng.normal(0.3, 0.5)
    y, f, fu = truth[:n].astype(float), judge[:n], judge[n:]
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    return y, f, fu, w


@pytest.mark.parametrize(("n", "big_n", "kind", "weighted"), CASES)
def test_equal_to_ppi_py(n: int, big_n: int, kind: str, weighted: bool) -> None:
    y, f, fu, w = _data(n, big_n, kind, weighted, seed=n)
    ours, lam = estimates.ppi(y, f, fu, w=w)
    low, high = ppi_mean_ci(y, f, fu, alpha=0.05, w=w)
    assert ours.low == pytest.approx(float(np.ravel(low)[0]), abs=1e-9)
    assert ours.high == pytest.approx(float(np.ravel(high)[0]), abs=1e-9)
    point = float(np.ravel(ppi_mean_pointestimate(y, f, fu, w=w))[0])
    assert ours.estimate == pytest.approx(point, abs=1e-9)
    assert 0 < lam < 1
    for fixed in (0.0, 1.0, 0.37):
        mine, _ = estimates.ppi(y, f, fu, w=w, lam=fixed)
        lo, hi = ppi_mean_ci(y, f, fu, alpha=0.05, w=w, lam=fixed)
        assert (mine.low, mine.high) == pytest.approx((float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), abs=1e-9)
    human = estimates.human_only(y, w=w)
    lo, hi = classical_mean_ci(y, w=w, alpha=0.05)
    assert (human.low, human.high) == pytest.approx((float(lo), float(hi)), abs=1e-9)
