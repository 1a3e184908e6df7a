"""A report holds BLAS to one thread while it computes (analysis.blas_threads): the limit is taken by
the first report, kept while any report still runs, given back by the last; and the report is the same
whatever BLAS's threads were before (on a machine of two cores or of many)."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from analysis.blas_threads import one_blas_thread
from analysis.report import build_report
from benchmarks.bench_report import synthetic

ONE_CORE = "one core: OpenBLAS runs one thread there, so there is no second thread for the limit to hold back"


def _blas_threads() -> list[int]:
    import numpy  # noqa: F401  (BLAS is loaded with numpy)

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason=ONE_CORE)
def test_the_limit_is_held_while_any_holder_runs() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and max(before) == 2
        first, second = one_blas_thread(), one_blas_thread()
        first.__enter__()
        assert set(_blas_threads()) == {1}
        second.__enter__()
        first.__exit__(None, None, None)
        assert set(_blas_threads()) == {1}  # the second report still runs
        second.__exit__(None, None, None)
        assert _blas_threads() == before  # given back by the last


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason=ONE_CORE)
def test_the_report_is_the_same_whatever_blas_had() -> None:
    labels, items = synthetic(3000, seed=8)
    options = {"task": "t", "n_boot": 200, "judge_models": {"judge-a": "kestrel"}}
    with threadpool_limits(limits=1, user_api="blas"):
        one = build_report(labels, items, **options).to_json()
    with threadpool_limits(limits=2, user_api="blas"):
        two = build_report(labels, items, **options).to_json()
        assert max(_blas_threads()) == 2  # given back after the report
    assert one == two
