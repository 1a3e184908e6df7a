"""Exports: long round-trips through ``import --format labels`` to the identical labels; wide, dpo
and hf load in their consumers (pandas, pyarrow, datasets)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from annotation.catalog import ensure_annotator, get_task
from annotation.export import dpo_frame, export, long_frame
from annotation.ingest import import_file
from annotation.models import Annotator, Item
from annotation.services import Services
from annotation.store import LabelIn, submit_labels
from tests.conftest import PROJECT_ROOT, make_services

SAMPLE = PROJECT_ROOT / "data" / "sample_pairwise.jsonl"
COMPARE = [
    "item_id",
    "annotator",
    "annotator_kind",
    "status",
    "value",
    "value_num",
    "presented_order",
    "replicate",
    "rationale",
    "confidence",
    "probabilities",
    "raw_output",
    "error",
    "duration_ms",
    "config_hash",
    "annotator_config",
    "metadata",
]


def _fill(services: Services) -> None:
    with services.session() as s:
        import_file(s, SAMPLE, task="t")
        items = [i.id for i in s.query(Item).order_by(Item.id).limit(6)]
        h = [ensure_annotator(s, f"h{k}", kind="human").id for k in range(3)]
        judge = ensure_annotator(s, "judge@1", kind="llm_judge", config={"model": "m", "mode": "logprobs"}).id
        labels = []
        for n, item in enumerate(items):
            for k, ann in enumerate(h):
                labels.append(
                    LabelIn(
                        item,
                        ann,
                        ["A", "B", "tie"][(n + k) % 3] if n != 5 else "A",
                        presented_order="ba" if k == 1 else "ab",
                        rationale=f'because, "{n}"\nok',
                        confidence=3.0,
                        duration_ms=1200 + n,
                    )
                )
            labels.append(
                LabelIn(
                    item,
                    judge,
                    "A",
                    probabilities={"A": 0.7, "B": 0.2, "tie": 0.1},
                    raw_output="A",
                    meta={"prompt_tokens": 12},
                )
            )
            labels.append(
                LabelIn(
                    item,
                    judge,
                    None,
                    status="failed",
                    presented_order="ba",
                    raw_output="???",
                    error="unparseable verdict",
                )
            )
        submit_labels(s, labels, changed_by="test")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_long_export_round_trips(services: Services, tmp_path: Path, suffix: str) -> None:
    _fill(services)
    out = tmp_path / f"labels{suffix}"
    with services.session() as s:
        n = export(s, "t", "long", out)
        original = long_frame(s, "t")
    assert n == len(original) == 6 * 5
    copy = make_services(f"sqlite:///{tmp_path / 'copy.db'}", tmp_path)
    with copy.session() as s:
        import_file(s, SAMPLE, task="t")
    with copy.session() as s:
        summary = import_file(s, out, task="t", fmt="labels")
        assert summary.labels_inserted == n
    with copy.session() as s:
        again = long_frame(s, "t")
    copy.close()
    a = original[COMPARE].sort_values(["item_id", "annotator", "presented_order"]).reset_index(drop=True)
    b = again[COMPARE].sort_values(["item_id", "annotator", "presented_order"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None))


def test_parquet_columns_are_typed(services: Services, tmp_path: Path) -> None:
    """Issue 16, 16: probabilities a map, metadata a struct, the run id an integer, the skip reason its
    own column (before: JSON text, a float id, the reason only inside the metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _fill(services)
    with services.session() as s:
        item = s.scalars(select(Item.id).where(Item.task_id == get_task(s, "t").id)).first()
        human = s.scalars(select(Annotator.id).where(Annotator.kind == "human")).first()
        assert item is not None and human is not None
        submit_labels(
            s,
            [LabelIn(item, human, None, status="skipped", replicate=1, meta={"reason": "=cmd() unreadable"})],
            changed_by="test",
        )
        export(s, "t", "long", tmp_path / "labels.parquet")
    table = pq.read_table(tmp_path / "labels.parquet")
    types = {f.name: f.type for f in table.schema}
    assert pa.types.is_map(types["probabilities"]), types["probabilities"]
    assert pa.types.is_struct(types["metadata"]), types["metadata"]
    assert pa.types.is_integer(types["judge_run_id"]), types["judge_run_id"]
    rows = table.to_pylist()
    assert [r["skip_reason"] for r in rows if r["status"] == "skipped"] == ["=cmd() unreadable"]
    assert all(r["skip_reason"] is None for r in rows if r["status"] != "skipped")
    probs = [dict(r["probabilities"]) for r in rows if r["probabilities"]]
    assert probs and all(abs(sum(p.values()) - 1) < 1e-9 for p in probs)


def test_wide_dpo_and_hf(services: Services, tmp_path: Path) -> None:
    _fill(services)
    with services.session() as s:
        export(s, "t", "wide", tmp_path / "wide.csv")
        export(s, "t", "dpo", tmp_path / "dpo.jsonl")
        export(s, "t", "dpo", tmp_path / "dpo_judge.parquet", raters=["judge@1"])
        export(s, "t", "hf", tmp_path / "hf")
        dpo = dpo_frame(s, "t")
        ext = {i.external_id: i for i in s.query(Item).filter(Item.task_id == get_task(s, "t").id)}
    wide = pd.read_csv(tmp_path / "wide.csv")
    assert len(wide) == 61 and {"label:h0", "label:judge@1", "human_majority"} <= set(wide.columns)
    # three humans on items 0-4 disagree in a cycle (A, B, tie): no majority; item 5 is A by all
    assert wide["human_majority"].notna().sum() == 1
    rows = [json.loads(line) for line in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert len(rows) == len(dpo) == 1 and set(rows[0]) >= {"prompt", "chosen", "rejected"}
    item = ext[rows[0]["item_id"]]
    assert (rows[0]["chosen"], rows[0]["rejected"]) == (item.response_a, item.response_b)
    judge_dpo = pq.read_table(tmp_path / "dpo_judge.parquet").to_pandas()
    assert len(judge_dpo) == 6 and set(judge_dpo["source"]) == {"judge@1"}
    from datasets import load_from_disk

    ds = load_from_disk(str(tmp_path / "hf"))
    assert ds["labels"].num_rows == 30 and ds["dpo"].column_names[:3] == ["prompt", "chosen", "rejected"]


def test_bad_export_arguments(services: Services, tmp_path: Path) -> None:
    from annotation.errors import JudgelabError

    _fill(services)
    with services.session() as s:
        with pytest.raises(JudgelabError, match=r"\.jsonl, \.csv or \.parquet"):
            export(s, "t", "long", tmp_path / "labels.xlsx")
        with pytest.raises(JudgelabError, match="no labels from"):
            export(s, "t", "dpo", tmp_path / "d.jsonl", raters=["nobody"])
    assert not list(tmp_path.glob("*.xlsx")) and not (tmp_path / "d.jsonl").exists()


def test_one_verdict_rule_in_the_report_the_wide_export_and_dpo(services: Services, tmp_path: Path) -> None:
    """A logprob judge run in both orders whose labels disagree (position-driven): the report and the
    dashboard read it by the mean of its probabilities, and so do the wide and DPO exports (before,
    the wide export wrote "tie" for every item and ``export dpo --raters JUDGE`` wrote nothing). A
    judge without probabilities is a tie on such items, and the DPO export says so instead of
    writing an empty file."""
    from analysis.frames import votes
    from annotation.errors import JudgelabError
    from annotation.export import wide_frame
    from annotation.label_frames import task_frames

    with services.session() as s:
        import_file(s, SAMPLE, task="t")
        items = [i.id for i in s.query(Item).order_by(Item.id).limit(8)]
        logprob = ensure_annotator(s, "lp@1", kind="llm_judge").id
        plain = ensure_annotator(s, "plain@1", kind="llm_judge").id
        labels = []
        for n, item in enumerate(items):
            lean = 0.8 if n % 2 else 0.3  # the item-frame P(A), averaged over both orders: A on odd items
            labels.append(
                LabelIn(item, logprob, "A", presented_order="ab", probabilities={"A": lean + 0.1, "B": 0.9 - lean})
            )
            labels.append(
                LabelIn(item, logprob, "B", presented_order="ba", probabilities={"A": lean - 0.1, "B": 1.1 - lean})
            )
            labels.append(LabelIn(item, plain, "A", presented_order="ab"))
            labels.append(LabelIn(item, plain, "B", presented_order="ba"))
        submit_labels(s, labels, changed_by="test")
    with services.session() as s:
        frame, _, _ = task_frames(s, "t")
        analysis_votes = votes(frame).set_index(["item_id", "annotator"])["vote"]
        wide = wide_frame(s, "t").set_index("item_id")
        ext = {i.id: i.external_id for i in s.query(Item).filter(Item.id.in_(items))}
        dpo = dpo_frame(s, "t", ["lp@1"])
        with pytest.raises(JudgelabError, match=r"8 items are ties"):
            dpo_frame(s, "t", ["plain@1"])
    for item in items:
        assert wide.loc[ext[item], "label:lp@1"] == analysis_votes[(item, "lp@1")]
        assert wide.loc[ext[item], "label:plain@1"] == analysis_votes[(item, "plain@1")] == "tie"
    assert sorted(wide["label:lp@1"].dropna().unique()) == ["A", "B"]
    assert len(dpo) == 8 and set(dpo["n_votes"]) == {1} and "mean probabilities" in dpo["rule"].iloc[0]
    assert "rule" in wide.columns and "human_votes" in wide.columns
