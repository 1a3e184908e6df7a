"""One vote per (item, rater) held as an items x raters grid of integer codes, from which the pooled and
majority comparisons of :mod:`analysis.agreement` are read without joining frames.

Every agreement figure compares two sides' votes item by item. Joining the votes frame with itself
(``DataFrame.merge``) for each figure, then sorting and looking the votes' numbers up, was a sixth of
a report's time at 100,000 items x 5 raters. Here the votes are coded once: each item a row (in item
id order), each rater a column (in the order of the coded ``annotator`` column's categories), each
cell the vote's code in the coded ``vote`` column (:data:`ABSENT` where the rater did not vote). A
comparison of two raters is the rows where both columns hold a vote.

The grid is a shortcut, not a second definition: :meth:`VoteGrid.of` declines (None) whatever it
cannot hold exactly (a rater with two votes on an item, as with ``orders="each"``; texts not coded;
a sparse crowd whose grid would dwarf its votes), and the frame join in
``analysis.agreement.comparisons_from_votes`` answers those. Where both apply they give the same
frame (tests/analysis/test_vote_grid.py compares them).

>>> v = pd.DataFrame({"item_id": [7, 7, 9], "annotator": pd.Categorical(["h1", "h2", "h1"], ordered=True),
...                   "vote": pd.Categorical(["A", "B", "A"], ordered=True), "vote_num": [1.0, 0.0, 1.0]})
>>> grid = VoteGrid.of(v)
>>> grid.grid.tolist()  # item 7: h1 voted A (code 0), h2 B (1); item 9: h1 only
[[0, 1], [0, -2]]
>>> grid.pairs(["h1"], ["h2"])[["item_id", "rater_a", "rater_b", "vote_a", "vote_b"]].values.tolist()
[[7, 'h1', 'h2', 'A', 'B']]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.frames import vote_numbers

ABSENT = -2  # no vote of this rater on this item (-1 is a vote whose value is missing, as in the codes)
# the grid is used while it holds at most this many cells per vote (a crowd of thousands, each on a few
# items, is joined instead)
MAX_CELLS_PER_VOTE = 4

Majorities = Callable[[list[str], "str | None", int], pd.Series]


@dataclass(frozen=True)
class VoteGrid:
    """``grid[i, r]``: the code of rater ``r``'s vote on item ``item_ids[i]`` (:data:`ABSENT`: none)."""

    item_ids: pd.Index  # sorted
    raters: pd.CategoricalDtype  # the votes frame's ``annotator`` dtype: column r is its category r
    votes: pd.CategoricalDtype  # the votes frame's ``vote`` dtype
    grid: NDArray[np.int16]
    numbers: NDArray[np.float64]  # each vote code's ``vote_num`` (what ``lookup`` gives), last entry NaN

    @classmethod
    def of(cls, v: pd.DataFrame) -> VoteGrid | None:
        """The grid of a votes frame (``analysis.frames.votes``), or None where it cannot hold it
        exactly. Each vote's number is its first row's ``vote_num`` (``analysis.frames.vote_numbers``)."""
        if len(v) == 0:
            return None
        raters, vote = v["annotator"], v["vote"]
        if not (isinstance(raters.dtype, pd.CategoricalDtype) and isinstance(vote.dtype, pd.CategoricalDtype)):
            return None
        rater = raters.cat.codes.to_numpy(dtype=np.int64)
        if (rater < 0).any() or len(vote.dtype.categories) >= np.iinfo(np.int16).max:
            return None
        item, item_ids = pd.factorize(v["item_id"], sort=True)
        if (item < 0).any():
            return None
        n_items, n_raters = len(item_ids), len(raters.dtype.categories)
        if n_items * n_raters > MAX_CELLS_PER_VOTE * len(v) + 1024:
            return None
        cell = item.astype(np.int64) * n_raters + rater
        if np.bincount(cell, minlength=n_items * n_raters).max() > 1:
            return None  # a rater with two votes on an item: only the join keeps both
        grid = np.full(n_items * n_raters, ABSENT, dtype=np.int16)
        grid[cell] = vote.cat.codes.to_numpy(dtype=np.int16)
        numbers = vote_numbers(v)
        table = np.array([numbers.get(c, np.nan) for c in vote.dtype.categories] + [np.nan], dtype=float)
        return cls(pd.Index(item_ids), raters.dtype, vote.dtype, grid.reshape(n_items, n_raters), table)

    def _columns(self, names: Sequence[str]) -> list[int]:
        return [int(c) for c in self.raters.categories.get_indexer(pd.Index(list(names)))]

    def pairs(self, raters_a: Sequence[str], raters_b: Sequence[str]) -> pd.DataFrame:
        """The pooled comparisons (``comparisons_from_votes`` without ``majority_b``): every pair
        (x from a, y from b, x != y) that voted on the same item, an unordered pair of raters on both
        sides once (the one whose first rater comes first). Sorted by item, rater a, rater b."""
        cols_a, cols_b = self._columns(raters_a), self._columns(raters_b)
        both = {c for c in cols_a if c >= 0} & {c for c in cols_b if c >= 0}
        present = self.grid != ABSENT
        items, ra, rb = [], [], []
        for x in dict.fromkeys(cols_a):
            for y in dict.fromkeys(cols_b):
                if x < 0 or y < 0 or x == y or (x in both and y in both and x > y):
                    continue
                rows = np.flatnonzero(present[:, x] & present[:, y])
                items.append(rows)
                ra.append(np.full(len(rows), x, dtype=np.int64))
                rb.append(np.full(len(rows), y, dtype=np.int64))
        item, a, b = (np.concatenate(p) if p else np.empty(0, dtype=np.int64) for p in (items, ra, rb))
        order = np.lexsort((b, a, item))
        item, a, b = item[order], a[order], b[order]
        rater_b = pd.Categorical.from_codes(b, dtype=self.raters)
        return self._frame(item, a, rater_b, self.grid[item, a], self.grid[item, b])

    def against_majorities(
        self, raters_a: Sequence[str], raters_b: list[str], min_votes: int, majorities: Majorities
    ) -> tuple[pd.DataFrame, int] | None:
        """The comparisons with side b's majority (``comparisons_from_votes(majority_b=True)``):
        each rater of a against the majority of b without it (or each leave-one-out majority in
        turn), ``majorities(raters, left_out, min_votes)`` giving them; with the number of a's votes
        that found no majority. None where a majority is not coded as the votes are."""
        items, ra, names, votes_b = [], [], [], []
        no_majority = 0
        for rater in raters_a:
            x = self._columns([rater])[0]
            mine = self.grid[:, x] != ABSENT if x >= 0 else np.zeros(len(self.item_ids), dtype=bool)
            left_out = [rater] if rater in raters_b else (list(raters_b) if len(raters_b) > 1 else [None])
            for gone in left_out:
                maj = majorities(list(raters_b), gone, min_votes)
                if len(maj) and maj.dtype != self.votes:
                    return None
                at = np.full(len(self.item_ids), ABSENT, dtype=np.int16)
                if len(maj):
                    at[self.item_ids.get_indexer(maj.index)] = maj.cat.codes.to_numpy(dtype=np.int16)
                rows = np.flatnonzero(mine & (at != ABSENT))
                no_majority += int(mine.sum()) - len(rows)
                items.append(rows)
                ra.append(np.full(len(rows), x, dtype=np.int64))
                names.append("majority" if gone is None or gone == rater else f"majority without {gone}")
                votes_b.append(at[rows])
        item = np.concatenate(items) if items else np.empty(0, dtype=np.int64)
        if len(item) == 0:
            return None
        a, vote_b = np.concatenate(ra), np.concatenate(votes_b)
        ranks = {name: i for i, name in enumerate(sorted(set(names)))}
        rank = np.concatenate([np.full(len(r), ranks[n], dtype=np.int64) for r, n in zip(items, names, strict=True)])
        order = np.lexsort((rank, a, item))
        item, a, vote_b = item[order], a[order], vote_b[order]
        rater_b = pd.array(np.array(sorted(ranks), dtype=object)[rank[order]], dtype="str")
        return self._frame(item, a, rater_b, self.grid[item, a], vote_b), no_majority

    def _frame(
        self,
        item: NDArray[np.int64],
        a: NDArray[np.int64],
        rater_b: pd.api.extensions.ExtensionArray,
        vote_a: NDArray[np.int16],
        vote_b: NDArray[np.int16],
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item_id": self.item_ids.take(item),
                "rater_a": pd.Categorical.from_codes(a, dtype=self.raters),
                "rater_b": rater_b,
                "vote_a": pd.Categorical.from_codes(vote_a, dtype=self.votes),
                "vote_b": pd.Categorical.from_codes(vote_b, dtype=self.votes),
                "num_a": self.numbers[vote_a],
                "num_b": self.numbers[vote_b],
            }
        )
