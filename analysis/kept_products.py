"""The bootstrap's matrix products of a running app's last reports, kept so that the next report
multiplies only what changed (:class:`KeptProducts`, held by a kept ``analysis.resampling.Resampler``).

A figure's resampled sums are ``unit_counts @ unit_sums``: 1,000 resamples x 33,000 prompts read for
each figure, about 25 products of 20-30 ms in a report at 100,000 items. After one label changes,
most figures' unit sums are the same as at the last refresh, and the others differ in the one or two
units the label's item is in. A product kept with its unit sums gives the new one as
``kept + unit_counts[:, changed] @ (new - old)[changed]``. For sums that are whole numbers this is
exact: the kept product holds whole numbers, the correction is whole numbers, and float64 adds them
without rounding, so it equals the product made anew (whose float32 sums of whole numbers below
2**24 are exact too). Other sums are taken from the kept product only when they are identical.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# a part that differs from every kept one in more units than this is multiplied anew (the correction
# reads a column of the unit counts per changed unit)
MOST_CHANGED = 64


@dataclass(frozen=True)
class _Kept:
    unit_sums: NDArray[np.float64]
    signature: NDArray[np.float64]  # each unit's sums against fixed weights: finds the changed units fast
    product: Array  # unit_counts @ unit_sums, float64
    whole: bool  # the sums are whole numbers (the correction is exact)


def _signature(unit_sums: NDArray[np.float64]) -> NDArray[np.float64]:
    weights = np.random.default_rng(unit_sums.shape[1]).random(unit_sums.shape[1]) + 1.0
    return np.asarray(unit_sums @ weights, dtype=np.float64)


class KeptProducts:
    """The last products of one resampler's unit counts, at most ``size`` of them and ``max_bytes`` of
    unit sums (least recently used dropped first). Shared by a report's threads."""

    def __init__(self, size: int = 128, max_bytes: int = 128 * 2**20) -> None:
        self.size, self.max_bytes = size, max_bytes
        self._held: OrderedDict[int, _Kept] = OrderedDict()
        self._next = 0
        self._lock = threading.Lock()
        self.reused = 0  # products taken whole or corrected (for tests and benchmarks)
        self.made = 0  # products made anew

    def product(
        self,
        unit_counts: NDArray[np.float32],
        unit_sums: NDArray[np.float64],
        *,
        whole: bool,
    ) -> Array | None:
        """``unit_counts @ unit_sums`` from a kept product, or None when none serves (the caller
        multiplies and :meth:`keep` s it). ``whole``: the sums are whole numbers below the exactness
        bound (a kept product may be corrected); otherwise only identical sums are served."""
        signature = _signature(unit_sums)
        with self._lock:
            candidates = [(key, k) for key, k in self._held.items() if k.unit_sums.shape == unit_sums.shape]
        best: tuple[int, _Kept, NDArray[np.intp]] | None = None
        for key, k in candidates:
            if not (whole and k.whole) and not np.array_equal(k.signature, signature):
                continue
            near = np.flatnonzero(k.signature != signature)
            if len(near) > MOST_CHANGED or (best is not None and len(near) >= len(best[2])):
                continue
            # the signature found the candidates; the sums themselves decide (two rows may share one)
            changed = np.flatnonzero((k.unit_sums != unit_sums).any(axis=1))
            if len(changed) > MOST_CHANGED or (changed.size and not (whole and k.whole)):
                continue
            if best is None or len(changed) < len(best[2]):
                best = (key, k, changed)
            if not changed.size:
                break
        if best is None:
            return None
        key, k, changed = best
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
            self.reused += 1
        if not changed.size:
            return k.product
        delta = unit_sums[changed] - k.unit_sums[changed]
        corrected = k.product + unit_counts[:, changed].astype(np.float64) @ delta
        self.keep(unit_sums, corrected, whole=whole, counted=False)
        return corrected

    def keep(self, unit_sums: NDArray[np.float64], product: Array, *, whole: bool, counted: bool = True) -> None:
        """Keep ``product`` (= unit_counts @ ``unit_sums``) for the next reports."""
        held = np.array(product, dtype=np.float64)  # its own copy, read-only: shared by later reports
        held.flags.writeable = False
        kept = _Kept(np.array(unit_sums, dtype=np.float64), _signature(unit_sums), held, whole)
        with self._lock:
            if counted:
                self.made += 1
            self._held[self._next] = kept
            self._next += 1
            used = sum(k.unit_sums.nbytes for k in self._held.values())
            while len(self._held) > self.size or (used > self.max_bytes and len(self._held) > 1):
                _, gone = self._held.popitem(last=False)
                used -= gone.unit_sums.nbytes
