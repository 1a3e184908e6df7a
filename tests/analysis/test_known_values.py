"""Metrics against published worked examples and library oracles."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from analysis._kernels import alpha_from_coincidence, coincidences
from analysis.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from analysis.errors import ArgumentError, MetricUndefinedError

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
# units, values 1-5, missing shown as NaN. Published: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)

# Fleiss (1971) as worked in Wikipedia's "Fleiss' kappa" article: 10 subjects, 14 raters,
# 5 categories; published kappa = 0.210.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_2011_example(level: str, expected: float) -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(expected, abs=0.0005)  # type: ignore[arg-type]
    # the coincidence-matrix path used by the bootstrap gives the same value
    values = np.unique(KRIPPENDORFF_2011[~np.isnan(KRIPPENDORFF_2011)])
    o = coincidences(KRIPPENDORFF_2011, values).sum(axis=0)
    assert float(alpha_from_coincidence(o, values, level=level)) == pytest.approx(expected, abs=0.0005)  # type: ignore[arg-type]


def test_fleiss_published_example() -> None:
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.210, abs=0.0005)


def test_cohen_kappa_matches_sklearn_on_random_data() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        k = int(rng.integers(2, 6))
        n = int(rng.integers(5, 200))
        a = rng.integers(0, k, n)
        b = np.where(rng.random(n) < 0.6, a, rng.integers(0, k, n))
        if len(set(a) | set(b)) < 2:
            continue
        cats = list(range(k))
        for weights in (None, "linear", "quadratic"):
            ours = cohen_kappa(a, b, categories=cats, weights=weights)  # type: ignore[arg-type]
            oracle = cohen_kappa_score(a, b, labels=cats, weights=weights)
            assert ours == pytest.approx(oracle, abs=1e-12, nan_ok=True)


def test_fleiss_matches_statsmodels_on_random_data() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        k, n, m = int(rng.integers(2, 6)), int(rng.integers(3, 100)), int(rng.integers(2, 9))
        table = np.stack([rng.multinomial(m, rng.dirichlet(np.ones(k))) for _ in range(n)])
        assert fleiss_kappa(table) == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-12)


def test_alpha_coincidence_path_matches_library_on_random_data() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        data = rng.integers(1, 6, size=(4, 40)).astype(float)
        data[rng.random(data.shape) < 0.2] = np.nan
        values = np.unique(data[~np.isnan(data)])
        o = coincidences(data, values).sum(axis=0)
        for level in ("nominal", "ordinal", "interval"):
            lib = krippendorff_alpha(data, level=level)  # type: ignore[arg-type]
            assert float(alpha_from_coincidence(o, values, level=level)) == pytest.approx(lib, abs=1e-9)  # type: ignore[arg-type]


def test_undefined_metrics_say_why_with_numbers() -> None:
    with pytest.raises(MetricUndefinedError, match="0 of 3 units"):
        krippendorff_alpha(np.array([[1, NAN, 2], [NAN, 1, NAN]]), level="nominal")
    with pytest.raises(MetricUndefinedError, match="single category"):
        cohen_kappa(["A", "A"], ["A", "A"])
    with pytest.raises(MetricUndefinedError, match="same number"):
        fleiss_kappa(np.array([[2, 0], [1, 2]]))
    with pytest.raises(ArgumentError, match="level='cardinal'"):
        krippendorff_alpha(KRIPPENDORFF_2011, level="cardinal")  # type: ignore[arg-type]


def test_weighted_kappa_takes_its_categories_from_the_task_scale() -> None:
    """On a 1-5 scale where nobody used 3, linear kappa over the used points (1, 2, 4, 5 as ranks
    0-3) is not the textbook one, whose distances are the scale's: scikit-learn with labels=1..5."""
    from sklearn.metrics import cohen_kappa_score

    from analysis.agreement import agreement
    from contracts.columns import SCALE_ATTR
    from tests.analysis.helpers import frame

    a = [1, 2, 4, 5, 5, 4, 2, 1, 4, 5, 2, 2]
    b = [1, 4, 4, 5, 4, 5, 1, 2, 5, 5, 2, 1]
    rows = [(i, "h1", str(x), "ab") for i, x in enumerate(a)] + [(i, "judge", str(y), "ab") for i, y in enumerate(b)]
    labels = frame(rows)
    used = agreement(labels, "judge", "h1", weights="linear", n_boot=0).kappa
    labels.attrs[SCALE_ATTR] = ["1", "2", "3", "4", "5"]
    textbook = agreement(labels, "judge", "h1", weights="linear", n_boot=0)
    assert textbook.kappa == pytest.approx(cohen_kappa_score(b, a, labels=[1, 2, 3, 4, 5], weights="linear"))
    assert textbook.categories == ["1", "2", "3", "4", "5"]
    assert used == pytest.approx(cohen_kappa_score(b, a, weights="linear"))  # sklearn's default: the used labels
    assert abs(textbook.kappa - used) > 0.005
