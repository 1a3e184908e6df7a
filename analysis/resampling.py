"""The bootstrap, vectorized: every statistic here is a function of per-item additive sums, so a
resample is a weight vector over items and all resamples are one matrix product per chunk.

A :class:`Resampler` draws the resamples once over a task's items; a report passes it to every
metric, so all figures are resampled the same way (and the draws are paid for once). Its resampling
unit is the item, or a cluster of items (a cluster bootstrap): items that share a prompt (MT-Bench's
question) are not independent, so the clusters are drawn with replacement and each drawn cluster
brings all its items. :func:`resampling_clusters` chooses the unit.

>>> rs = Resampler.create(["q1-a", "q1-b", "q2-a"], n_boot=4, seed=0, clusters=["q1", "q1", "q2"], unit="prompt")
>>> rs.unit, rs.n_units
('prompt', 2)
>>> bool((rs.counts[:, 0] == rs.counts[:, 1]).all())  # the items of one prompt are drawn together
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.intervals import NO_INTERVAL, Draws, Interval, bca
from analysis.kept_products import KeptProducts

Array = NDArray[np.float64]
_CHUNK = 64
# the largest draws :func:`resampler_for` keeps (100,000 items in 33,000 prompts: 133 MB; a million
# items' 1.3 GB are drawn again rather than held by a running app)
KEEP_AT_MOST = 512 * 2**20


def _draw_counts(n_items: int, n_boot: int, seed: int) -> NDArray[np.float32]:
    """(n_boot x n_items) bootstrap counts: how often each item was drawn in each resample (float32:
    exact for counts, and ready for the matrix products)."""
    rng = np.random.default_rng(seed)
    counts = np.empty((n_boot, n_items), dtype=np.float32)
    for start in range(0, n_boot, _CHUNK):
        size = min(_CHUNK, n_boot - start)
        idx = rng.integers(0, n_items, size=(size, n_items))
        flat = idx + (np.arange(size) * n_items)[:, None]
        counts[start : start + size] = np.bincount(flat.ravel(), minlength=size * n_items).reshape(size, n_items)
    return counts


@dataclass(frozen=True)
class Resampler:
    """Bootstrap resamples of a fixed set of items, drawn once: ``unit_counts[b, u]`` is how often unit
    ``u`` is in resample ``b``, and ``codes[i]`` is item ``i``'s unit. ``unit`` names what was drawn
    (``"item"``, or the item field whose values group the items into clusters), ``n_units`` how many
    of them there are. A statistic's per-item sums are added up per unit first, then multiplied by
    the unit counts: a cluster bootstrap over a million items and 333,333 prompts holds a 1,000 x
    333,333 matrix, not 1,000 x 1,000,000 (4 GB)."""

    item_ids: pd.Index
    unit_counts: NDArray[np.float32]
    unit: str = "item"
    n_units: int = 0
    codes: NDArray[np.intp] | None = None  # each item's unit (None: every item its own unit)
    # a kept resampler's last products (analysis.kept_products): the next report multiplies what changed
    products: KeptProducts | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        item_ids: Iterable[Any],
        *,
        n_boot: int,
        seed: int,
        clusters: Sequence[Any] | np.ndarray | None = None,
        unit: str = "item",
    ) -> Resampler:
        """``clusters`` (aligned with ``item_ids``; None: every item its own unit) gives each item's
        cluster; a missing cluster value makes the item a cluster of its own."""
        ids = pd.Index(item_ids if isinstance(item_ids, np.ndarray) else list(item_ids))
        first = ~ids.duplicated()
        index = ids[first]
        if clusters is None:
            return cls(index, _draw_counts(len(index), n_boot, seed), "item", len(index))
        given = clusters if isinstance(clusters, np.ndarray) else list(clusters)
        codes, uniques = pd.factorize(np.asarray(given, dtype=object)[first])
        alone = codes < 0  # no cluster value: the item is a cluster of its own
        codes[alone] = len(uniques) + np.arange(int(alone.sum()))
        n_units = len(uniques) + int(alone.sum())
        return cls(index, _draw_counts(n_units, n_boot, seed), unit, n_units, codes.astype(np.intp))

    @property
    def n_boot(self) -> int:
        return int(self.unit_counts.shape[0])

    @property
    def counts(self) -> NDArray[np.float32]:
        """(n_boot x n_items) how often each item is in each resample (its unit's count)."""
        return self.unit_counts if self.codes is None else np.take(self.unit_counts, self.codes, axis=1)

    def _positions(self, item_ids: Sequence[object] | pd.Index) -> NDArray[np.intp]:
        positions = self.item_ids.get_indexer(pd.Index(item_ids))
        if (positions < 0).any():
            raise ValueError("the resampler was built over other items than this statistic uses")
        return positions

    def _units(self, positions: NDArray[np.intp]) -> NDArray[np.intp]:
        """The unit of each item at ``positions``."""
        return self.codes[positions] if self.codes is not None else positions

    def _unit_sums(self, units: NDArray[np.intp], per_item: Array) -> Array:
        """``per_item`` (one row per entry of ``units``) summed per unit: (n_units x m)."""
        n = self.unit_counts.shape[1]
        sums = [np.bincount(units, weights=per_item[:, j], minlength=n) for j in range(per_item.shape[1])]
        return np.asarray(np.column_stack(sums), dtype=np.float64).reshape(n, per_item.shape[1])

    def sums(self, item_ids: Sequence[object] | pd.Index, per_item: Array) -> Array:
        """Resampled column sums of ``per_item`` whose rows belong to ``item_ids`` (n_boot x m)."""
        per_item = np.asarray(per_item, dtype=np.float64).reshape(len(per_item), -1)
        return self._products([self._unit_sums(self._units(self._positions(item_ids)), per_item)])[0]

    def draws_each(self, parts: Sequence[tuple[Sequence[object] | pd.Index, Array]], *, seed: int = 0) -> list[Draws]:
        """:meth:`draws` of several ``(item_ids, per_item)`` parts, the unit counts read once for all
        of them (:meth:`_products`)."""
        made = [self._parts(item_ids, per_item) for item_ids, per_item in parts]
        drawn = self._products([unit_sums for _, unit_sums, _ in made])
        return [
            Draws(total, sums, total - unit_sums[present], self.unit, seed)
            for (total, unit_sums, present), sums in zip(made, drawn, strict=True)
        ]

    def _products(self, unit_sums: Sequence[Array]) -> list[Array]:
        """``unit_counts @ s`` for each unit sums ``s`` (units x m), as float64. The sums that are whole
        numbers (counts) go side by side into one product, which gives each the sums a product of its
        own gives (float32 adds whole numbers below 2**24 exactly, in any order: every partial sum of a
        resample is at most the units it draws times the largest unit sum); any other has a product of
        its own. A kept resampler first asks its kept products (``analysis.kept_products``): the same
        sums as a product of the last reports, or whole sums that differ from one in a few units,
        cost no product (the same figures)."""
        drawn_units = self.unit_counts.shape[1]  # each resample draws as many units as there are
        whole = {i for i, s in enumerate(unit_sums) if drawn_units * np.abs(s).max(initial=0) < 2**24 and _whole(s)}
        out: dict[int, Array] = {}
        if self.products is not None:
            for i, s in enumerate(unit_sums):
                found = self.products.product(self.unit_counts, s, whole=i in whole)
                if found is not None:
                    out[i] = found
        made = [i for i in range(len(unit_sums)) if i not in out]  # the products made here
        stack = [i for i in made if i in whole]
        if stack:
            product = np.asarray(self.unit_counts @ np.hstack([unit_sums[i] for i in stack]).astype(np.float32))
            edges = np.cumsum([0, *(unit_sums[i].shape[1] for i in stack)])
            for k, i in enumerate(stack):
                out[i] = np.asarray(product[:, edges[k] : edges[k + 1]], dtype=np.float64)
        for i in made:
            if i not in whole:
                out[i] = np.asarray(self.unit_counts @ unit_sums[i].astype(np.float32), dtype=np.float64)
        if self.products is not None:
            for i in made:
                self.products.keep(unit_sums[i], out[i], whole=i in whole)
        return [out[i] for i in range(len(unit_sums))]

    def _parts(self, item_ids: Sequence[object] | pd.Index, per_item: Array) -> tuple[Array, Array, NDArray[np.intp]]:
        """A statistic's full sums (1 x m), sums per unit (units x m) and the units its items are in."""
        per_item = np.asarray(per_item, dtype=np.float64).reshape(len(per_item), -1)
        units = self._units(self._positions(item_ids))
        # the units present (what np.unique gives), found by counting instead of sorting
        present = np.flatnonzero(np.bincount(units, minlength=self.unit_counts.shape[1]))
        return per_item.sum(axis=0)[None, :], self._unit_sums(units, per_item), present

    def draws(self, item_ids: Sequence[object] | pd.Index, per_item: Array, *, seed: int = 0) -> Draws:
        """The full, resampled and leave-one-unit-out sums of ``per_item`` (rows: ``item_ids``) for
        :mod:`analysis.intervals`. Units without any of these items are not jackknifed."""
        return self.draws_each([(item_ids, per_item)], seed=seed)[0]


def _whole(values: Array) -> bool:
    return bool(np.all(np.mod(values, 1) == 0))


def resampling_clusters(items: pd.DataFrame, cluster: str | None = "auto") -> tuple[str, pd.Series | None]:
    """The resampling unit for a task's items, and each item's cluster (None: the item itself).

    ``"auto"``: ``question_id`` when items share one (MT-Bench), else ``prompt`` when items share a
    prompt, else the item. ``"none"`` (or None): the item. Any other value names an item field.

    >>> items = pd.DataFrame({"item_id": [1, 2, 3], "prompt": ["p", "p", "q"]})
    >>> resampling_clusters(items)[0], resampling_clusters(items, "none")[0]
    ('prompt', 'item')
    """
    from analysis.errors import ArgumentError

    if cluster is None or cluster == "none" or cluster == "item":
        return "item", None
    if cluster == "auto":
        for field in ("question_id", "prompt"):
            if field in items.columns and items[field].dropna().duplicated().any():
                return field, items.set_index("item_id")[field]
        return "item", None
    if cluster not in items.columns:
        fields = [c for c in items.columns if c not in ("response_a", "response_b", "conversation", "metadata")]
        raise ArgumentError(
            f"cannot resample by {cluster!r}: items have no such field",
            fix=f"use --cluster auto, none, or one of {fields}",
        )
    return cluster, items.set_index("item_id")[cluster]


class Keeps(Protocol):
    """Where a caller keeps results between calls (``annotation.recent.Recent``)."""

    def get(self, key: Hashable) -> Any: ...

    def put(self, key: Hashable, value: Any) -> None: ...


def resampler_for(
    item_ids: Iterable[Any],
    items: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
    cluster: str | None = "auto",
    kept: Keeps | None = None,
) -> Resampler:
    """A :class:`Resampler` over ``item_ids`` with the unit :func:`resampling_clusters` picks.
    ``kept``: draws made before over the same items, clusters, ``n_boot`` and ``seed`` are taken from
    there (the same draws: they depend on nothing else), and new ones put there. A dashboard refresh
    after a label on an item labeled before draws nothing (0.6 s at 100,000 items)."""
    ids = pd.unique(item_ids if isinstance(item_ids, np.ndarray) else np.asarray(list(item_ids), dtype=object))
    unit, of_item = resampling_clusters(items, cluster)
    clusters = None if of_item is None else of_item[~of_item.index.duplicated()].reindex(ids).to_numpy()
    key = None
    if kept is not None:
        digests = [_digest(ids), None if clusters is None else _digest(clusters)]
        key = ("resampler", n_boot, seed, unit, *digests)
        held = kept.get(key)
        if isinstance(held, Resampler):
            return held
    made = (
        Resampler.create(ids, n_boot=n_boot, seed=seed)
        if clusters is None
        else Resampler.create(ids, n_boot=n_boot, seed=seed, clusters=clusters, unit=unit)
    )
    if kept is not None and made.unit_counts.nbytes <= KEEP_AT_MOST:
        made.unit_counts.flags.writeable = False  # shared between reports: nobody may write into it
        made = replace(made, products=KeptProducts())
        kept.put(key, made)
    return made


def _digest(values: np.ndarray) -> str:
    """A digest of an array's values in order (numbers or texts)."""
    return hashlib.blake2b(pd.util.hash_array(np.asarray(values)).tobytes(), digest_size=16).hexdigest()


def unit_of(resampler: Resampler | None, n_boot: int) -> str | None:
    """What a figure's interval resampled: the resampler's unit, the item (drawn on the spot), or
    None (no interval: ``n_boot`` = 0)."""
    if resampler is not None:
        return resampler.unit
    return "item" if n_boot > 0 else None


def bootstrap_sums(per_item: Array, *, n_boot: int, seed: int) -> Array:
    """Resampled column sums of a (n_items x m) matrix: (n_boot x m)."""
    per_item = np.asarray(per_item, dtype=np.float64)
    if per_item.ndim == 1:
        per_item = per_item[:, None]
    counts = _draw_counts(per_item.shape[0], n_boot, seed)
    return np.vstack([counts[s : s + _CHUNK].astype(np.float64) @ per_item for s in range(0, n_boot, _CHUNK)])


Method = Callable[[Callable[[Array], Array], Draws], Interval]


def estimates(
    per_item: Array,
    statistics: Sequence[tuple[Callable[[Array], Array], Method]],
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
    item_ids: Sequence[object] | pd.Index | None = None,
) -> list[tuple[float, Interval]]:
    """Point estimate and interval of each ``(statistic, method)``: a statistic is a vectorized
    function of column sums of ``per_item``; a method one of :mod:`analysis.intervals` (``bca``,
    ``proportion``, a ``kappa_dirichlet`` partial). All share one set of draws: the ``resampler``'s
    (with the ``item_ids`` of ``per_item``'s rows), else item-level draws made here; ``n_boot`` = 0
    and no resampler: no intervals."""
    per_item = np.asarray(per_item, dtype=np.float64).reshape(len(per_item), -1)
    total = per_item.sum(axis=0)[None, :]
    if resampler is None or item_ids is None:
        if n_boot <= 0:
            return [(float(stat(total)[0]), NO_INTERVAL) for stat, _ in statistics]
        item_ids = pd.RangeIndex(len(per_item))
        resampler = Resampler(pd.Index(item_ids), _draw_counts(len(per_item), n_boot, seed), "item", len(per_item))
    draws = resampler.draws(item_ids, per_item, seed=seed)
    return [(float(stat(total)[0]), method(stat, draws)) for stat, method in statistics]


def estimate(
    per_item: Array,
    statistic: Callable[[Array], Array],
    *,
    method: Method = bca,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
    item_ids: Sequence[object] | pd.Index | None = None,
) -> tuple[float, Interval]:
    """:func:`estimates` of one statistic."""
    return estimates(per_item, [(statistic, method)], n_boot=n_boot, seed=seed, resampler=resampler, item_ids=item_ids)[
        0
    ]


def estimate_each(
    parts: Sequence[tuple[Sequence[object] | pd.Index, Array]],
    statistic: Callable[[Array], Array],
    *,
    method: Method = bca,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
) -> list[tuple[float, Interval]]:
    """:func:`estimate` of one statistic on each of several ``(item_ids, per_item)`` parts (a figure's
    raters, or pairs of raters): the same figures, the resampler's unit counts read once for all the
    parts that are counts (:meth:`Resampler.draws_each`) instead of once per part."""
    if resampler is None:
        return [
            estimate(per_item, statistic, method=method, n_boot=n_boot, seed=seed, item_ids=item_ids)
            for item_ids, per_item in parts
        ]
    draws = resampler.draws_each(parts, seed=seed)
    return [(float(statistic(d.total)[0]), method(statistic, d)) for d in draws]


def resampled_rows(
    item_ids: Sequence[object] | pd.Index,
    *,
    n_boot: int,
    seed: int,
    resampler: Resampler | None = None,
    limit: int = 1000,
) -> tuple[list[NDArray[np.intp]], str, int]:
    """For statistics that are not functions of per-item sums (rank correlations, model fits): each
    resample as the row positions it draws from ``item_ids`` (an item drawn twice appears twice), at
    most ``limit`` resamples; with the unit and the number of units drawn from."""
    ids = pd.Index(item_ids)
    if resampler is None:
        resampler = Resampler(ids, _draw_counts(len(ids), n_boot, seed), "item", len(ids))
    positions = resampler._positions(ids)
    units = resampler._units(positions)
    counts = resampler.unit_counts[:limit][:, units].astype(np.intp)
    codes = resampler.codes[positions] if resampler.codes is not None else np.arange(len(ids))
    rows = [np.repeat(np.arange(len(ids)), c) for c in counts]
    return rows, resampler.unit, len(np.unique(codes))
