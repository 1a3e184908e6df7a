"""A kept resampler's products (analysis.kept_products): a part that equals one multiplied before, or
whose sums are counts and differ from one in a few units, costs no product, and its resampled sums are
exactly those of a product made anew; a dashboard's report after a label changed is the report made
from scratch."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from analysis.kept_products import MOST_CHANGED, KeptProducts
from analysis.report import build_report
from analysis.resampling import Resampler
from annotation.recent import Recent
from benchmarks.bench_report import synthetic


def _pair(kept: bool) -> Resampler:
    ids = np.arange(4000)
    rs = Resampler.create(ids, n_boot=300, seed=2, clusters=ids // 3, unit="prompt")
    return replace(rs, products=KeptProducts()) if kept else rs


def test_a_changed_count_part_is_corrected_exactly() -> None:
    rng = np.random.default_rng(0)
    kept, fresh = _pair(True), _pair(False)
    ids = np.arange(4000)
    hits = (rng.random(len(ids)) < 0.6).astype(float)
    per_item = np.column_stack([hits, np.ones_like(hits)])
    assert np.array_equal(kept.sums(ids, per_item), fresh.sums(ids, per_item))
    assert kept.products is not None and (kept.products.made, kept.products.reused) == (1, 0)
    for changed in (1, 5, MOST_CHANGED * 3 // 2):  # a label, a few, more units than a correction serves
        at = rng.choice(len(ids), size=changed * 3, replace=False)  # three items per unit: ~changed units
        was = np.bincount(ids // 3, weights=per_item[:, 0])
        per_item = per_item.copy()
        per_item[at, 0] = 1 - per_item[at, 0]
        units_changed = np.count_nonzero(np.bincount(ids // 3, weights=per_item[:, 0]) != was)
        before = (kept.products.made, kept.products.reused)
        got = kept.draws(ids, per_item, seed=4)
        want = fresh.draws(ids, per_item, seed=4)
        for field in ("total", "samples", "jackknife"):
            assert np.array_equal(getattr(got, field), getattr(want, field)), (changed, field)
        made, reused = kept.products.made - before[0], kept.products.reused - before[1]
        assert (made, reused) == ((1, 0) if units_changed > MOST_CHANGED else (0, 1)), units_changed


def test_other_sums_are_served_only_when_identical() -> None:
    rng = np.random.default_rng(1)
    kept = _pair(True)
    ids = np.arange(4000)
    per_item = rng.random((len(ids), 2))  # not counts: a correction would round
    first = kept.sums(ids, per_item)
    served = kept.sums(ids, per_item)
    assert np.array_equal(served, first)
    assert not served.flags.writeable, "a kept product is shared by later reports: read-only"
    assert kept.products is not None and (kept.products.made, kept.products.reused) == (1, 1)
    per_item[7, 0] += 0.25
    again = kept.sums(ids, per_item)
    assert (kept.products.made, kept.products.reused) == (2, 1)
    assert np.array_equal(again, _pair(False).sums(ids, per_item))


def test_a_report_after_a_label_changed_is_the_report_made_anew() -> None:
    labels, items = synthetic(3000, seed=7)
    kept = Recent()
    build_report(labels, items, task="t", n_boot=200, kept=kept)
    humans = labels.index[(labels["kind"] == "human").to_numpy()]
    for row in humans[[10, 400, 2000]]:
        flipped = "A" if labels.loc[row, "value"] != "A" else "B"
        labels.loc[row, ["value", "value_num"]] = [flipped, 1.0 if flipped == "A" else 0.0]
        again = build_report(labels, items, task="t", n_boot=200, kept=kept)
        anew = build_report(labels, items, task="t", n_boot=200)
        assert json.dumps(again.to_json()) == json.dumps(anew.to_json())
    (resampler,) = [v for v in kept._items.values() if isinstance(v, Resampler)]
    assert resampler.products is not None and resampler.products.reused > 10
