"""BLAS held to one thread of its own while a report computes its figures.

The report's figures run on several threads at once (``analysis.report.Jobs``), and each bootstrap is
a matrix product in OpenBLAS, which starts threads of its own, as many as the machine has cores, and
keeps them spinning between products. On two cores, two report threads each using two BLAS threads
ran a 100,000-item report in 4.4-6.0 s; with BLAS held to one thread, 3.2-4.0 s in the same hour
(docs/benchmarks.md). One thread also makes the figures the same on every machine: how OpenBLAS splits
a float32 product over its threads moves the last bits of the sums (2e-8 on an interval's bound
between one thread and two). The limit is the process's (OpenBLAS has no per-thread setting), so it
is taken by the first report that needs it and given back by the last one still running.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import threadpool_limits


class _OneThread:
    """How many reports hold the limit, and the limit to give back when the last one ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._limits: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._limits = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._limits is not None:
                    self._limits.restore_original_limits()
                    self._limits = None


_ONE = _OneThread()


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread per calling thread (nested and concurrent uses share it)."""
    return _ONE.held()
