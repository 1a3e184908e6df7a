"""A seeded coverage simulation of judgelab's intervals (used by test_coverage.py; runnable alone to
print the whole grid: ``python -m tests.analysis.coverage_sim``).

The model: each item has a true class (A, B, tie with probabilities .45, .45, .10); a rater reports
it with probability q, else one of the other two classes at random. With prompt clustering, items
come in prompts of ``CLUSTER`` items and each prompt shifts logit(q) by N(0, SIGMA) (intra-prompt
correlation of the agreement indicator about 0.05-0.15). Scenarios: moderate agreement (q = .86,
judge-human agreement about .75) and high (q = .975, about .95). Statistics: percent agreement and
Cohen's kappa of a judge against one human; Krippendorff's alpha (nominal) of three humans;
the judge's agreement with the three humans' majority. Truth: the same statistic on one very large
sample of the same model.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from analysis import intervals
from analysis._kernels import alpha_from_coincidence, coincidences
from analysis.agreement import agreement_statistics
from analysis.resampling import Resampler

K = 3
CLUSTER = 5
SIGMA = 1.0
QS = {"moderate": 0.86, "high": 0.975}
STATISTICS = ("agreement", "kappa", "alpha", "vs_majority")


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def simulate(rng: np.random.Generator, n: int, q: float, clustered: bool, n_raters: int = 4) -> np.ndarray:
    """(n x n_raters) class codes: column 0 the judge, the rest humans."""
    truth = rng.choice(K, size=n, p=[0.45, 0.45, 0.10])
    if clustered:
        shift = rng.normal(0, SIGMA, size=-(-n // CLUSTER)).repeat(CLUSTER)[:n]
        q_item = 1 / (1 + np.exp(-(_logit(q) + shift)))
    else:
        q_item = np.full(n, q)
    right = rng.random((n, n_raters)) < q_item[:, None]
    other = (truth[:, None] + rng.integers(1, K, size=(n, n_raters))) % K
    return np.where(right, truth[:, None], other)


def per_item_parts(codes: np.ndarray) -> dict[str, np.ndarray]:
    """Each statistic's per-item additive parts."""
    n = len(codes)
    pair = np.zeros((n, K * K))
    pair[np.arange(n), codes[:, 0] * K + codes[:, 1]] = 1.0
    humans = codes[:, 1:4].astype(float)
    values = np.arange(K, dtype=float)
    coinc = coincidences(humans.T, values).reshape(n, -1)
    counts = np.stack([(codes[:, 1:4] == c).sum(axis=1) for c in range(K)], axis=1)
    top = counts.max(axis=1)
    clear = (counts == top[:, None]).sum(axis=1) == 1
    maj = counts.argmax(axis=1)
    vs_maj = np.zeros((n, K * K))
    rows = np.flatnonzero(clear)
    vs_maj[rows, codes[rows, 0] * K + maj[rows]] = 1.0
    return {"pair": pair, "alpha": coinc, "vs_majority": vs_maj}


AGREE, KAPPA = agreement_statistics(K)
VALUES = np.arange(K, dtype=float)


def alpha_stat(sums: np.ndarray) -> np.ndarray:
    return alpha_from_coincidence(sums.reshape(-1, K, K), VALUES, level="nominal")


def _values(parts: dict[str, np.ndarray]) -> dict[str, float]:
    total = {k: v.sum(axis=0)[None, :] for k, v in parts.items()}
    return {
        "agreement": float(AGREE(total["pair"])[0]),
        "kappa": float(KAPPA(total["pair"])[0]),
        "alpha": float(alpha_stat(total["alpha"])[0]),
        "vs_majority": float(AGREE(total["vs_majority"])[0]),
    }


def truth(q: float, clustered: bool, seed: int = 12345, n: int = 400_000) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return _values(per_item_parts(simulate(rng, n, q, clustered)))


STAT_OF = {
    "agreement": ("pair", AGREE),
    "kappa": ("pair", KAPPA),
    "alpha": ("alpha", alpha_stat),
    "vs_majority": ("vs_majority", AGREE),
}
METHOD_OF = {
    "agreement": partial(intervals.proportion, trials=intervals.rows_total),
    "kappa": intervals.kappa_dirichlet,
    "alpha": intervals.bca,
    "vs_majority": partial(intervals.proportion, trials=intervals.rows_total),
}


@dataclass
class Cell:
    n: int
    scenario: str
    clustered: bool
    statistic: str
    covered: int = 0
    flagged: int = 0
    runs: int = 0
    width: float = 0.0

    @property
    def coverage(self) -> float:
        return self.covered / max(self.runs - self.flagged, 1) if self.runs > self.flagged else float("nan")


def run_grid(
    ns: tuple[int, ...] = (20, 50, 200, 1000),
    reps: int = 400,
    n_boot: int = 1000,
    seed: int = 0,
    methods: dict[str, Any] | None = None,
    workers: int = 1,
) -> list[Cell]:
    """Every cell of the grid; ``workers`` > 1 runs the four (scenario, clustering) blocks in that
    many processes (each block is seeded on its own, so the result does not depend on it)."""
    blocks = [(scenario, q, clustered) for scenario, q in QS.items() for clustered in (False, True)]
    jobs = [(scenario, q, clustered, ns, reps, n_boot, seed, methods or METHOD_OF) for scenario, q, clustered in blocks]
    if workers <= 1:
        return [cell for job in jobs for cell in _block(*job)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [cell for cells in pool.map(_block_args, jobs) for cell in cells]


def _block_args(job: tuple[Any, ...]) -> list[Cell]:
    return _block(*job)


def _block(
    scenario: str,
    q: float,
    clustered: bool,
    ns: tuple[int, ...],
    reps: int,
    n_boot: int,
    seed: int,
    methods: dict[str, Any],
) -> list[Cell]:
    cells: list[Cell] = []
    true = truth(q, clustered)
    for n in ns:
        ids = np.arange(n)
        clusters = ids // CLUSTER if clustered else None
        rs = Resampler.create(
            ids, n_boot=n_boot, seed=seed + n, clusters=clusters, unit="prompt" if clustered else "item"
        )
        rng = np.random.default_rng([seed, n, int(clustered), int(q * 1000)])
        row = {s: Cell(n, scenario, clustered, s) for s in methods}
        for rep in range(reps):
            parts = per_item_parts(simulate(rng, n, q, clustered))
            for s, method in methods.items():
                key, stat = STAT_OF[s]
                per_item = parts[key]
                keep = per_item.sum(axis=1) > 0
                draws = rs.draws(pd.Index(ids[keep]), per_item[keep], seed=rep)
                iv = method(stat, draws)
                c = row[s]
                c.runs += 1
                if iv.flag is not None or not np.isfinite(iv.low):
                    c.flagged += 1
                    continue
                c.covered += int(iv.low <= true[s] <= iv.high)
                c.width += iv.high - iv.low
        cells.extend(row.values())
    return cells


if __name__ == "__main__":
    import sys
    import time

    t = time.time()
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for c in run_grid(reps=reps):
        unflagged = c.runs - c.flagged
        print(
            f"{c.scenario:9s} clustered={c.clustered!s:5s} n={c.n:5d} {c.statistic:12s} "
            f"coverage={c.coverage:.3f} flagged={c.flagged}/{c.runs} width={c.width / max(unflagged, 1):.3f}"
        )
    print(f"{time.time() - t:.1f}s")
