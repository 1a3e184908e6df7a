"""Import: every format, bad input named by file/line/field, one transaction, idempotent re-import."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from annotation.errors import InputError, JudgelabError, LabelError
from annotation.ingest import import_file
from annotation.models import Annotator, Item, Label, Task
from annotation.services import Services
from tests.conftest import PROJECT_ROOT
from tests.mtbench_data import synthetic_votes


def _rows(n: int = 10) -> list[dict[str, Any]]:
    return [
        {
            "id": f"x{i}",
            "prompt": f"question {i}",
            "response_a": f"a{i}",
            "response_b": f"b{i}",
            "model_a": "m1",
            "model_b": "m2",
            "category": "cat" + str(i % 3),
            "difficulty": i % 2,
        }
        for i in range(n)
    ]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _counts(services: Services) -> tuple[int, int, int, int]:
    with services.session() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(t)) or 0 for t in (Task, Item, Label, Annotator)
        )


def _import(services: Services, path: Path, **kw: Any):
    with services.session() as s:
        return import_file(s, path, **kw)


@pytest.mark.parametrize("container", ["jsonl", "json", "csv", "parquet"])
def test_generic_pairwise_in_every_container(services: Services, tmp_path: Path, container: str) -> None:
    rows = _rows()
    path = tmp_path / f"items.{container}"
    if container == "jsonl":
        _write_jsonl(path, rows)
    elif container == "json":
        path.write_text(json.dumps(rows, indent=2))
    elif container == "csv":
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    summary = _import(services, path, task="t")
    assert (summary.items_added, summary.items_present) == (10, 0)
    with services.session() as s:
        item = s.scalars(select(Item).where(Item.external_id == "x3")).one()
    assert (item.prompt, item.response_a, item.response_b, item.category) == ("question 3", "a3", "b3", "cat0")
    assert item.meta is not None and str(item.meta["difficulty"]) == "1"
    again = _import(services, path, task="t")  # idempotent
    assert (again.items_added, again.items_present) == (0, 10)
    assert _counts(services)[1] == 10


def test_single_answer_and_conversations(services: Services, tmp_path: Path) -> None:
    single = _write_jsonl(tmp_path / "s.jsonl", [{"id": 1, "prompt": "q", "response": "r", "model": "m"}])
    assert _import(services, single, task="s", protocol="single").items_added == 1
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    multi = _write_jsonl(tmp_path / "m.jsonl", [{"id": "c1", "prompt": conv, "response_a": "x", "response_b": "y"}])
    _import(services, multi, task="m")
    with services.session() as s:
        single_item = s.scalars(select(Item).where(Item.external_id == "1")).one()
        item = s.scalars(select(Item).where(Item.external_id == "c1")).one()
        task = s.scalars(select(Task).where(Task.name == "s")).one()
    assert task.protocol == "single" and single_item.response_b is None and single_item.response_a == "r"
    assert item.prompt == "and now?" and item.conversation is not None and item.conversation["prompt"] == conv


def test_sample_data_meets_its_promises(sqlite_services: Services) -> None:
    data = PROJECT_ROOT / "data"
    pair = _import(sqlite_services, data / "sample_pairwise.jsonl", task="p")
    single = _import(sqlite_services, data / "sample_single.jsonl", task="s", protocol="single")
    assert pair.items_added >= 60 and single.items_added >= 20
    with sqlite_services.session() as s:
        cats = set(s.scalars(select(Item.category).join(Task).where(Task.name == "p")))
        probes = [m["probe"] for m in s.scalars(select(Item.meta).join(Task).where(Task.name == "p"))]
    assert len(cats) >= 6
    assert probes.count("length") >= 5 and probes.count("format") >= 5


# ----------------------------------------------------------------- bad input


def test_bad_json_on_line_7_names_the_line_and_writes_nothing(services: Services, tmp_path: Path) -> None:
    _import(services, _write_jsonl(tmp_path / "first.jsonl", _rows(3)), task="t")
    before = _counts(services)
    lines = [json.dumps(r) for r in _rows(10)]
    lines[6] = lines[6][:-5]  # line 7 cut short
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        _import(services, path, task="t")
    assert f"{path}:7" in str(err.value) and "not valid JSON" in str(err.value)
    assert _counts(services) == before


def test_missing_response_b_names_line_and_field(services: Services, tmp_path: Path) -> None:
    rows = _rows(5)
    del rows[3]["response_b"]
    path = _write_jsonl(tmp_path / "missing.jsonl", rows)
    with pytest.raises(InputError) as err:
        _import(services, path, task="t")
    assert f"{path}:4" in str(err.value) and "'response_b'" in str(err.value)
    assert _counts(services) == (0, 0, 0, 0)  # not even the task was created


def test_value_outside_schema_in_a_label_file_writes_nothing(services: Services, tmp_path: Path) -> None:
    _import(services, _write_jsonl(tmp_path / "items.jsonl", _rows(4)), task="t")
    labels = [{"item_id": f"x{i}", "annotator": "ann1", "value": v} for i, v in enumerate(["A", "B", "maybe", "tie"])]
    path = _write_jsonl(tmp_path / "labels.jsonl", labels)
    before = _counts(services)
    with pytest.raises(LabelError) as err:
        _import(services, path, task="t", fmt="labels")
    message = str(err.value)
    assert f"{path}:3" in message and "field 'value'" in message and "'maybe'" in message
    assert _counts(services) == before  # annotator ann1 and the first two labels rolled back


def test_duplicate_ids_and_limits(services: Services, tmp_path: Path) -> None:
    rows = [*_rows(3), _rows(2)[1]]
    with pytest.raises(InputError, match="duplicate item id 'x1'"):
        _import(services, _write_jsonl(tmp_path / "dup.jsonl", rows), task="t")
    big = _rows(1)
    big[0]["response_a"] = "x" * 2_000
    with pytest.raises(InputError, match="over the limit of 1,000"):
        _import(services, _write_jsonl(tmp_path / "big.jsonl", big), task="t", max_chars=1_000)
    with pytest.raises(InputError, match="over the import limit"):
        _import(services, _write_jsonl(tmp_path / "b2.jsonl", _rows(3)), task="t", max_bytes=10)
    raw = tmp_path / "latin1.jsonl"
    raw.write_bytes(b'{"id": "1", "prompt": "caf\xe9", "response_a": "a", "response_b": "b"}\n')
    with pytest.raises(InputError, match=r"latin1.jsonl:1.*UTF-8"):
        _import(services, raw, task="t")
    assert _counts(services) == (0, 0, 0, 0)


def test_csv_row_errors_name_the_csv_line(services: Services, tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text('id,prompt,response_a,response_b\n1,q,a,b\n2,"multi\nline",a,b\n3,,a,b\n')
    with pytest.raises(InputError) as err:
        _import(services, path, task="t")
    assert f"{path}:5" in str(err.value) and "'prompt'" in str(err.value)


def test_unknown_format_and_protocol_clash(services: Services, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1}])
    with pytest.raises(InputError, match="cannot tell the import format"):
        _import(services, path, task="t")
    _import(services, _write_jsonl(tmp_path / "p.jsonl", _rows(2)), task="t")
    single = _write_jsonl(tmp_path / "s.jsonl", [{"id": 1, "prompt": "q", "response": "r"}])
    with pytest.raises(JudgelabError, match="exists with protocol 'pairwise'"):
        _import(services, single, task="t", protocol="single")


# ----------------------------------------------------------------- MT-Bench


@pytest.mark.parametrize("container", ["jsonl", "csv"])
def test_mtbench_import_keys_items_like_fastchat(services: Services, tmp_path: Path, container: str) -> None:
    votes = synthetic_votes(n_questions=3)
    path = tmp_path / f"mtbench.{container}"
    if container == "jsonl":
        _write_jsonl(path, votes)
    else:
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(votes[0]))
            writer.writeheader()
            for v in votes:
                writer.writerow({k: json.dumps(x) if isinstance(x, list) else x for k, x in v.items()})
    summary = _import(services, path, task="mt")
    keys = {(v["question_id"], *sorted((v["model_a"], v["model_b"])), v["turn"]) for v in votes}
    assert summary.items_added == len(keys)
    assert summary.labels_inserted == len(votes)
    with services.session() as s:
        kinds = dict(s.execute(select(Annotator.name, Annotator.kind)).all())
        # check one vote end to end: sorted pair, flipped winner, presented order
        vote = next(v for v in votes if v["model_a"] > v["model_b"] and v["winner"] == "model_a")
        key = f"{vote['question_id']}:{vote['model_b']}:{vote['model_a']}:t{vote['turn']}"
        item = s.scalars(select(Item).where(Item.external_id == key)).one()
        values = s.execute(select(Label.value, Label.presented_order).where(Label.item_id == item.id)).all()
    assert kinds["gpt-4/pair-v2"] == "llm_judge" and kinds["author_1"] == "human"
    assert all(k == "human" for n, k in kinds.items() if n.startswith("expert_"))
    assert ("B", "ba") in [tuple(v) for v in values]
    assert item.model_a == vote["model_b"] and item.meta == {
        "question_id": str(vote["question_id"]),
        "turn": vote["turn"],
    }
    assert item.response_a.endswith(f".{vote['turn']}")


def test_mtbench_bad_winner_names_the_row(services: Services, tmp_path: Path) -> None:
    votes = synthetic_votes(n_questions=1)[:5]
    votes[4]["winner"] = "model_c"
    path = _write_jsonl(tmp_path / "mt.jsonl", votes)
    with pytest.raises(InputError) as err:
        _import(services, path, task="mt")
    assert f"{path}:5" in str(err.value) and "'winner'" in str(err.value)


# ----------------------------------------------------------------- PandaLM (real data in ../shared)


def test_pandalm_real_files(services: Services, pandalm_dir: Path) -> None:
    test = _import(services, pandalm_dir / "testset-v1.json", task="pandalm")
    gpt = _import(services, pandalm_dir / "gpt-3.5-turbo-testset-v1.json", task="pandalm")
    panda = _import(services, pandalm_dir / "pandalm-7b-testset-v1.json", task="pandalm")
    assert test.items_added == 999 and test.labels_inserted == 2997
    assert test.annotators == ["annotator1", "annotator2", "annotator3"]
    assert gpt.labels_inserted == 999 and gpt.labels_failed == 25
    assert panda.labels_inserted == 999 and panda.labels_failed == 0
    with services.session() as s:
        kinds = dict(s.execute(select(Annotator.name, Annotator.kind)).all())
        failed = s.scalars(select(Label).where(Label.status == "failed")).all()
    assert kinds == {
        "annotator1": "human",
        "annotator2": "human",
        "annotator3": "human",
        "gpt-3.5-turbo": "llm_judge",
        "pandalm-7b": "llm_judge",
    }
    assert len(failed) == 25 and all(f.value is None and f.raw_output == "garbage" for f in failed)
    again = _import(services, pandalm_dir / "gpt-3.5-turbo-testset-v1.json", task="pandalm")
    assert (again.labels_inserted, again.labels_unchanged) == (0, 999)


def test_pandalm_judge_file_needs_its_items(services: Services, pandalm_dir: Path) -> None:
    with pytest.raises(InputError, match="holds only labels"):
        _import(services, pandalm_dir / "pandalm-7b-testset-v1.json", task="empty")


@pytest.mark.parametrize("services", ["postgres"], indirect=True)
def test_a_large_import_refreshes_the_planners_statistics(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL plans the queue's reads from the tables' statistics; an import that writes many rows
    takes them in its own transaction (here the threshold is lowered to this small file)."""
    from sqlalchemy import text

    from annotation import ingest

    def reltuples(name: str) -> float:
        with services.session() as s:
            return float(s.execute(text("SELECT reltuples FROM pg_class WHERE relname = :n"), {"n": name}).scalar_one())

    assert reltuples("items") < 0  # never analyzed
    monkeypatch.setattr(ingest, "ANALYZE_AFTER", 30)
    with services.session() as s:
        import_file(s, _write_jsonl(tmp_path / "small.jsonl", _rows(20)), task="t")
    assert reltuples("items") < 0  # 20 rows: under the threshold
    with services.session() as s:
        import_file(s, _write_jsonl(tmp_path / "more.jsonl", _rows(60)), task="t")  # 40 new
    assert reltuples("items") == 60
