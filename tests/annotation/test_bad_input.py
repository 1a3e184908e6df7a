"""Bad input everywhere, generated (hypothesis): each import format and the label write path get
valid data with one corruption (truncated bytes, invalid UTF-8, a wrong type, an empty string, an
unknown label, an oversized field, a duplicate id, a missing field). The import either succeeds
(some corruptions leave a valid file) or fails with judgelab's error naming the file and the
place (line or field), and the database is unchanged after a failure.

Each run writes how many inputs it tried, and how many were refused, to test-output/bad-input.json.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from annotation.errors import JudgelabError, LabelError
from annotation.ingest import import_file
from annotation.models import Annotator, Item, Label, LabelEvent, Task
from annotation.services import Services
from annotation.store import LabelIn, submit_labels
from tests.conftest import PROJECT_ROOT
from tests.mtbench_data import synthetic_votes

MAX_CHARS = 1_000  # the tests pass a small field limit, so "oversized" stays cheap; one test uses 10 MB
TRIED: Counter[str] = Counter()
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
FILE_LEVEL = ["holds no rows", "cannot tell the import format", "over the import limit"]
WRONG = [123, 1.5, True, None, [1, 2], {"a": 1}, "", "   "]


def _items(n: int = 6) -> list[dict[str, Any]]:
    return [
        {"id": f"x{i}", "prompt": f"question {i}", "response_a": f"a{i}", "response_b": f"b{i}", "category": "c"}
        for i in range(n)
    ]


def _labels() -> list[dict[str, Any]]:
    return [{"item_id": f"x{i}", "annotator": f"h{i % 2}", "value": "AB"[i % 2]} for i in range(6)]


def _single() -> list[dict[str, Any]]:
    return [{"id": f"s{i}", "prompt": f"q{i}", "response": f"r{i}"} for i in range(5)]


BASES: dict[str, tuple[str, Any, dict[str, Any]]] = {
    # name: (file suffix, rows, import keyword arguments)
    "pairwise-jsonl": ("jsonl", _items, {"task": "t"}),
    "pairwise-csv": ("csv", _items, {"task": "t"}),
    "single-jsonl": ("jsonl", _single, {"task": "s", "protocol": "single"}),
    "labels-jsonl": ("jsonl", _labels, {"task": "t", "fmt": "labels"}),
    "mtbench-jsonl": ("jsonl", lambda: synthetic_votes(n_questions=1)[:12], {"task": "mt", "fmt": "mtbench"}),
}


def _encode(suffix: str, rows: list[dict[str, Any]]) -> bytes:
    if suffix == "csv":
        out = io.StringIO()
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@st.composite
def corrupted(draw: st.DrawFn, base: str) -> tuple[str, bytes]:
    suffix, make, _ = BASES[base]
    rows = make()
    kind = draw(
        st.sampled_from(["truncate", "utf8", "wrong_type", "unknown_value", "oversized", "duplicate", "missing"])
    )
    row = draw(st.integers(0, len(rows) - 1))
    field = draw(st.sampled_from(sorted(rows[row])))
    if kind == "wrong_type":
        rows[row][field] = draw(st.sampled_from(WRONG))
    elif kind == "unknown_value":
        key = next((k for k in ("value", "winner", "annotator", "judge") if k in rows[row]), field)
        rows[row][key] = draw(st.text(min_size=1, max_size=12))
    elif kind == "oversized":
        rows[row][field] = "x" * (MAX_CHARS + draw(st.integers(1, 500)))
    elif kind == "duplicate":
        rows.append(dict(rows[row]))
    elif kind == "missing":
        del rows[row][field]
    data = _encode(suffix, rows)
    if kind == "truncate":
        data = data[: draw(st.integers(1, len(data) - 1))]
    elif kind == "utf8":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + data[at:]
    return kind, data


def _counts(services: Services) -> tuple[int, ...]:
    with services.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0 for t in (Task, Item, Label, Annotator))


def _prepare(services: Services, base: str, tmp: Path) -> None:
    if base == "labels-jsonl":
        path = tmp / "items.jsonl"
        path.write_bytes(_encode("jsonl", _items()))
        with services.session() as s:
            import_file(s, path, task="t")


def _record(base: str, outcome: str) -> None:
    TRIED[f"{base} {outcome}"] += 1
    (PROJECT_ROOT / "test-output").mkdir(exist_ok=True)
    (PROJECT_ROOT / "test-output" / "bad-input.json").write_text(json.dumps(dict(sorted(TRIED.items())), indent=1))


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_import_format_refuses_bad_input_cleanly(
    base: str, sqlite_services: Services, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp(base)
    _prepare(sqlite_services, base, tmp)
    suffix, _, kwargs = BASES[base]
    seen = Counter[str]()

    @SETTINGS
    @given(corrupted(base))
    def check(case: tuple[str, bytes]) -> None:
        kind, data = case
        path = tmp / f"input.{suffix}"
        path.write_bytes(data)
        before = _counts(sqlite_services)
        try:
            with sqlite_services.session() as s:
                import_file(s, path, max_chars=MAX_CHARS, **kwargs)
        except JudgelabError as exc:
            message = str(exc)
            assert str(path) in message, f"{kind}: the error does not name the file: {message}"
            # a line or record, a field, or a fault of the file as a whole
            place = rf"{re.escape(str(path))}(:\d+|: record \d+)|field '|header|column|{'|'.join(FILE_LEVEL)}"
            assert re.search(place, message), f"{kind}: the error names no place: {message}"
            assert "Fix:" in message, f"{kind}: the error gives no fix: {message}"
            assert _counts(sqlite_services) == before, f"{kind}: a failed import left rows behind"
            seen[f"{kind} refused"] += 1
            _record(base, "refused")
            return
        seen[f"{kind} accepted"] += 1
        _record(base, "accepted")

    check()
    assert sum(n for k, n in seen.items() if k.endswith("refused")) > 0


def test_a_10_mb_field_is_refused_by_the_default_limit(sqlite_services: Services, tmp_path: Path) -> None:
    rows = _items(3)
    rows[1]["response_b"] = "y" * 10_000_000
    path = tmp_path / "big.jsonl"
    path.write_bytes(_encode("jsonl", rows))
    with pytest.raises(JudgelabError) as err, sqlite_services.session() as s:
        import_file(s, path, task="t")  # the default limit: 1,000,000 characters per field
    assert f"{path}:2" in str(err.value) and "response_b" in str(err.value) and "1,000,000" in str(err.value)
    assert _counts(sqlite_services) == (0, 0, 0, 0)


def test_a_file_over_the_size_limit_is_refused_before_reading(sqlite_services: Services, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_bytes(_encode("jsonl", _items(50)))
    with pytest.raises(JudgelabError, match="over the import limit") as err, sqlite_services.session() as s:
        import_file(s, path, task="t", max_bytes=1_000)
    assert str(path) in str(err.value)
    assert _counts(sqlite_services) == (0, 0, 0, 0)


LABEL_VALUES = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["A", "B", "tie", "bothbad", "a", " A"]))


@SETTINGS
@given(
    values=st.lists(LABEL_VALUES, min_size=1, max_size=6),
    status=st.sampled_from(["submitted", "skipped", "failed", "done", ""]),
    confidence=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    rationale=st.one_of(st.none(), st.text(max_size=5), st.just("r" * (MAX_CHARS + 1))),
    order=st.sampled_from(["ab", "ba", "xy", ""]),
)
def test_label_writes_refuse_bad_labels_cleanly(
    sqlite_services: Services,
    tmp_path_factory: pytest.TempPathFactory,
    values: list[str | None],
    status: str,
    confidence: float | None,
    rationale: str | None,
    order: str,
) -> None:
    """The one write path: a batch with any invalid label raises LabelError naming the label and
    writes nothing; a valid batch is stored (a repeat is a no-op)."""
    with sqlite_services.session() as s:
        if not s.scalar(select(func.count()).select_from(Item)):
            path = tmp_path_factory.mktemp("labels") / "items.jsonl"
            path.write_bytes(_encode("jsonl", _items()))
            import_file(s, path, task="t")
            s.add(Annotator(name="h", kind="human"))
        item_ids = list(s.scalars(select(Item.id).order_by(Item.id)))
        annotator = s.scalars(select(Annotator.id).where(Annotator.name == "h")).one()
    batch = [
        LabelIn(
            item_ids[i % len(item_ids)],
            annotator,
            v,
            status=status,
            presented_order=order,
            confidence=confidence,
            rationale=rationale,
        )
        for i, v in enumerate(values)
    ]
    with sqlite_services.session() as s:
        before = (
            s.scalar(select(func.count()).select_from(Label)),
            s.scalar(select(func.count()).select_from(LabelEvent)),
        )
    try:
        with sqlite_services.session() as s:
            submit_labels(s, batch, changed_by="h", max_chars=MAX_CHARS)
    except LabelError as exc:
        assert "Fix:" in str(exc) and "item" in str(exc), str(exc)
        with sqlite_services.session() as s:
            after = (
                s.scalar(select(func.count()).select_from(Label)),
                s.scalar(select(func.count()).select_from(LabelEvent)),
            )
        assert after == before, "a refused batch wrote something"
        _record("labels-write", "refused")
        return
    _record("labels-write", "accepted")
    with sqlite_services.session() as s:
        stored = s.scalar(select(func.count()).select_from(Label))
        assert submit_labels(s, batch, changed_by="h").inserted == 0  # a repeat adds nothing
    assert stored is not None and stored >= (before[0] or 0)


@pytest.mark.parametrize(
    ("anchors", "says"),
    [
        ("7=way off", "anchor 7 is not a point of the scale 1-5"),
        ("1=", "--anchors must list POINT=LABEL pairs"),
        ("one=poor", "--anchors must list POINT=LABEL pairs"),
        ("1=" + "x" * 81, "anchor 1: give a label of 1 to 80 characters"),
    ],
)
def test_scale_anchors_are_checked_at_import(
    sqlite_services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str], anchors: str, says: str
) -> None:
    """Issue 16, 5: a scale's anchors name points of the scale, each with a short label; a bad one is
    refused with the place and the fix, and no task is created."""
    from app.cli import main

    items = tmp_path / "s.jsonl"
    items.write_text('{"id": "s1", "prompt": "p", "response": "r"}\n')
    db = tmp_path / "a.db"
    code = main(["--db", str(db), "import", str(items), "--task", "s", "--protocol", "single", "--anchors", anchors])
    err = capsys.readouterr().err
    assert code != 0 and says in err, err
    assert main(["--db", str(db), "tasks", "list"]) == 0
    assert "s (single)" not in capsys.readouterr().out
