"""The judge runner, the label mapping and the request building on the ``fake`` backend: scripted
verdicts and faults, real SQLite files, seconds instead of a server. The live vLLM tests
(test_judges_live.py) run the same paths against the real local judge."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from annotation.errors import ConfigError
from annotation.ingest import import_file
from annotation.judges.backend_fake import FakeBackend
from annotation.judges.backends import REGISTRY, create_backend
from annotation.judges.config import CONFIGS, FakeConfig, parse_config
from annotation.judges.runner import plan, run_judge
from annotation.models import Item, JudgeRun, Label
from annotation.services import Services
from tests.conftest import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
SINGLE = PROJECT_ROOT / "data" / "sample_single.jsonl"


def _fake(**kw: Any) -> FakeConfig:
    config = parse_config({"backend": "fake", "model": "fake-judge", **kw})
    assert isinstance(config, FakeConfig)
    return config


def _import(services: Services, path: Path, task: str, **kw: Any) -> list[int]:
    with services.session() as s:
        import_file(s, path, task=task, **kw)
        return list(s.scalars(select(Item.id).order_by(Item.id)))


def _labels(services: Services) -> list[Label]:
    with services.session() as s:
        return list(s.scalars(select(Label).order_by(Label.item_id, Label.presented_order)))


def test_verdicts_are_mapped_back_to_the_items_frame(sqlite_services: Services) -> None:
    """The judge says "A" (the first response shown) every time: in order ab that is the item's A,
    in order ba the item's B. Every (item, order) is labeled once."""
    ids = _import(sqlite_services, SAMPLE, "t")
    summary = run_judge(sqlite_services, task="t", config=_fake(swap=True), limit=6, progress=False)
    assert (summary.total, summary.done, summary.failed) == (12, 12, 0)
    labels = _labels(sqlite_services)
    assert [(lab.item_id, lab.presented_order, lab.value) for lab in labels] == [
        (i, order, "A" if order == "ab" else "B") for i in ids[:6] for order in ("ab", "ba")
    ]
    assert all(lab.rationale == "fake judge answers A" and lab.raw_output for lab in labels)
    with sqlite_services.session() as s:
        run = s.scalars(select(JudgeRun)).one()
        assert (run.status, run.n_done, run.n_failed, run.n_total) == ("finished", 12, 0, 12)


def test_logprobs_are_stored_in_the_items_frame(sqlite_services: Services) -> None:
    ids = _import(sqlite_services, SAMPLE, "t")
    # item ids alternate the answer: even ids (+0 for ab, +1 for ba) pick answers[0] or answers[1]
    run_judge(sqlite_services, task="t", config=_fake(mode="logprobs", swap=True, answers=["A", "C"]), limit=2)
    by_key = {(lab.item_id, lab.presented_order): lab for lab in _labels(sqlite_services)}
    for item in ids[:2]:
        for order in ("ab", "ba"):
            lab = by_key[(item, order)]
            answer = ["A", "C"][(item + (order == "ba")) % 2]
            expected = {"A": "A" if order == "ab" else "B", "C": "tie"}[answer]
            assert lab.value == expected
            assert lab.probabilities is not None and lab.probabilities[expected] == pytest.approx(0.7)
            assert sum(lab.probabilities.values()) == pytest.approx(1.0)


def test_an_unparseable_answer_is_failed_with_its_raw_text(sqlite_services: Services) -> None:
    _import(sqlite_services, SAMPLE, "t")
    summary = run_judge(sqlite_services, task="t", config=_fake(answers=["maybe the first?"]), limit=3)
    assert (summary.done, summary.failed) == (0, 3)
    for lab in _labels(sqlite_services):
        assert lab.status == "failed" and lab.value is None and lab.value_num is None
        assert "maybe the first?" in (lab.raw_output or "") and "not one of" in (lab.error or "")


def test_give_ups_are_failed_and_a_rerun_retries_only_them(sqlite_services: Services) -> None:
    ids = _import(sqlite_services, SAMPLE, "t")
    every = 3
    faulty = [i for i in ids[:9] if i % every == 0]
    first = run_judge(sqlite_services, task="t", config=_fake(give_up_every=every), limit=9, progress=False)
    assert (first.done, first.failed) == (9 - len(faulty), len(faulty)) and faulty
    failed = [lab for lab in _labels(sqlite_services) if lab.status == "failed"]
    assert sorted(lab.item_id for lab in failed) == faulty
    assert all("fake fault" in (lab.error or "") for lab in failed)
    again = run_judge(sqlite_services, task="t", config=_fake(give_up_every=every), limit=9, progress=False)
    assert (again.total, again.skipped_existing) == (0, 9)  # a rerun does exactly what is missing: nothing
    fixed = run_judge(sqlite_services, task="t", config=_fake(), limit=9, retry_failed=True, progress=False)
    # a config without faults is the same judge (faults are not identity) and redoes only the failed
    assert (fixed.total, fixed.done) == (len(faulty), len(faulty))
    assert {lab.status for lab in _labels(sqlite_services)} == {"submitted"}
    assert len(_labels(sqlite_services)) == 9


def test_single_answer_scale(sqlite_services: Services) -> None:
    _import(sqlite_services, SINGLE, "s", protocol="single")
    config = _fake(protocol="single", answers=["4", "2"], sampling={"n": 3})
    summary = run_judge(sqlite_services, task="s", config=config, limit=4, progress=False)
    assert summary.done == 4
    for lab in _labels(sqlite_services):
        assert lab.value in ("4", "2") and lab.value_num == float(lab.value)
        assert lab.meta is not None and lab.meta["samples"] == [lab.value] * 3


def test_requests_show_the_guidelines_first_and_swap_the_sides(sqlite_services: Services) -> None:
    _import(sqlite_services, SAMPLE, "t", instructions="Prefer the correct answer.")
    config = _fake(swap=True)
    p = plan(sqlite_services, "t", config, limit=1, retry_failed=False)
    backend = create_backend(config)
    assert isinstance(backend, FakeBackend)
    ab, ba = sorted(p.requests, key=lambda r: r.presented_order)
    asyncio.run(backend.complete(ab))
    assert backend.requests == [ab]
    assert ab.messages[0] == ba.messages[0] and "Prefer the correct answer." in ab.messages[0]["content"]
    with sqlite_services.session() as s:
        item = s.get(Item, ab.item_id)
        assert item is not None
        a, b = item.response_a, item.response_b
    assert a and b
    assert ab.messages[1]["content"].index(a[:40]) < ab.messages[1]["content"].index(b[:40])
    assert ba.messages[1]["content"].index(b[:40]) < ba.messages[1]["content"].index(a[:40])
    assert ab.options == ["A", "B", "C"] and ab.to_value == {"A": "A", "B": "B", "C": "tie"}
    assert ba.to_value == {"A": "B", "B": "A", "C": "tie"}


def test_a_cancelled_run_stops_and_a_rerun_completes(sqlite_services: Services) -> None:
    _import(sqlite_services, SAMPLE, "t")
    config = _fake(latency_ms=50, concurrency=2)
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.update(summary=run_judge(sqlite_services, task="t", config=config, progress=False))
    )
    worker.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite_services.session() as s:
            run = s.scalars(select(JudgeRun)).first()
            if run is not None and run.n_done > 0:
                run.status = "cancelling"
                break
        time.sleep(0.05)
    worker.join(30)
    summary = result["summary"]
    assert summary.done < 61
    with sqlite_services.session() as s:
        assert s.scalars(select(JudgeRun.status)).one() == "cancelled"
    rest = run_judge(sqlite_services, task="t", config=_fake(concurrency=8), progress=False)
    assert rest.done == 61 - summary.done and len(_labels(sqlite_services)) == 61


@pytest.mark.parametrize(
    ("data", "bad_key"),
    [
        ({"backend": "fake", "base_url": "http://127.0.0.1:9/v1"}, "base_url"),
        ({"backend": "vllm", "concurrency": 4}, "concurrency"),
        ({"backend": "openai", "vllm_args": {"trust_remote_code": True}}, "vllm_args"),
        ({"backend": "openai", "answers": ["A"]}, "answers"),
    ],
)
def test_a_key_of_another_backend_is_refused(data: dict[str, Any], bad_key: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown key '{bad_key}' for backend '{data['backend']}'"):
        parse_config({"model": "m", **data})


def test_an_unknown_backend_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend.*'mystery'.*Fix: use one of \['openai', 'vllm', 'fake'\]"):
        parse_config({"model": "m", "backend": "mystery"})


def test_backends_are_registered_by_name_and_imported_when_used() -> None:
    assert set(REGISTRY) == set(CONFIGS) == {"openai", "vllm", "fake"}
    probe = (
        "import sys, annotation.judges.backends, annotation.judges.runner;"
        "print(sorted(m for m in ('vllm', 'torch', 'openai', 'annotation.judges.backend_openai',"
        " 'annotation.judges.backend_vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert out.stdout.strip() == "[]"
    for name in REGISTRY:
        backend = create_backend(parse_config({"model": "m", "backend": name}))
        assert hasattr(backend, "complete") and hasattr(backend, "close") and isinstance(backend.batched, bool)
