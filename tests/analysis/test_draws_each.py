"""Several figures' draws made at once (Resampler.draws_each, estimate_each): each part's full,
resampled and leave-one-unit-out sums are exactly those of a product of its own, for parts that are
counts (one product for all of them) and for parts that are not (their own product)."""

from __future__ import annotations

from functools import partial

import numpy as np

from analysis._kernels import ratio
from analysis.intervals import proportion, second_column
from analysis.resampling import Resampler, estimate, estimate_each


def _parts(rng: np.random.Generator, ids: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    parts = []
    for share in (1.0, 0.6, 0.3):  # raters on all items, on most, on a few
        mine = ids[rng.random(len(ids)) < share]
        hits = (rng.random(len(mine)) < 0.7).astype(float)
        parts.append((mine, np.column_stack([hits, np.ones_like(hits)])))
    floats = ids[rng.random(len(ids)) < 0.5]
    parts.append((floats, rng.random((len(floats), 2))))  # not counts: a product of its own
    return parts


def test_draws_made_at_once_are_each_parts_own() -> None:
    rng = np.random.default_rng(3)
    ids = np.arange(3000)
    rs = Resampler.create(ids, n_boot=300, seed=1, clusters=ids // 4, unit="prompt")
    parts = _parts(rng, ids)
    together = rs.draws_each(parts, seed=5)
    for (item_ids, per_item), got in zip(parts, together, strict=True):
        alone = rs.draws(item_ids, per_item, seed=5)
        for field in ("total", "samples", "jackknife"):
            assert np.array_equal(getattr(got, field), getattr(alone, field)), field
        assert got.n_units == alone.n_units and got.seed == 5
    # the parts are really different figures (not one part repeated)
    assert len({d.n_units for d in together}) > 1


def test_estimate_each_is_estimate_of_each_part() -> None:
    rng = np.random.default_rng(4)
    ids = np.arange(2000)
    parts = _parts(rng, ids)[:3]
    method = partial(proportion, trials=second_column)
    rs = Resampler.create(ids, n_boot=200, seed=2)
    for resampler in (rs, None):  # None: each part drawn on its own items, as estimate() does
        each = estimate_each(parts, ratio, method=method, n_boot=200, seed=2, resampler=resampler)
        for (item_ids, per_item), (value, interval) in zip(parts, each, strict=True):
            want = estimate(per_item, ratio, method=method, n_boot=200, seed=2, resampler=resampler, item_ids=item_ids)
            assert value == want[0] and interval == want[1]
