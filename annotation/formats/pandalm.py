"""The PandaLM test set and its judge files.

``testset-v1.json``: ``idx, instruction, input, response1, response2, annotator1..3`` (0 = tie,
1 = response1 better, 2 = response2 better), ``cmp_key`` (``modelA_modelB``), ``motivation_app``.
A judge file (``<judge>-testset-v1.json``) holds ``idx`` and one ``*_result`` field per row, attached
to the existing items by ``idx`` as a judge named after the file. A judge answer that is not 0/1/2/tie
is kept as a ``failed`` label with its raw text, never dropped or coerced.
"""

from __future__ import annotations

import re
from pathlib import Path

from annotation.formats.records import Fields, ItemRecord, LabelRecord, Parsed, unresolved_label
from annotation.readers import Row

HUMAN_VALUES = {0: "tie", 1: "A", 2: "B"}
JUDGE_VALUES = {"0": "tie", "tie": "tie", "1": "A", "2": "B"}


def is_judge_file(rows: list[Row]) -> bool:
    return bool(rows) and "response1" not in rows[0].data and result_key(rows[0].data) is not None


def result_key(data: dict[str, object]) -> str | None:
    keys = [k for k in data if k.endswith("_result")]
    return keys[0] if len(keys) == 1 else None


def judge_name_from_path(path: Path) -> str:
    stem = path.name
    for ext in (".jsonl", ".json", ".csv", ".parquet"):
        stem = stem.removesuffix(ext)
    return re.sub(r"-testset.*$", "", stem) or stem


def parse_pandalm(rows: list[Row], *, path: Path, max_chars: int, judge: str | None = None) -> Parsed:
    if is_judge_file(rows):
        return _judge_file(rows, judge or judge_name_from_path(path), max_chars)
    parsed = Parsed(protocol="pairwise")
    for row in rows:
        f = Fields(row.where, row.data, max_chars)
        idx = f.ident("idx")
        # the published file has an instruction that is a single space (idx 466): the prompt is
        # instruction and input together, and that must not be empty
        instruction = (f.text("instruction", allow_empty=True) or "").strip()
        extra_input = (f.text("input", required=False, allow_empty=True) or "").strip()
        prompt = "\n\n".join(part for part in (instruction, extra_input) if part)
        if not prompt:
            raise f.fail("instruction", "and 'input' are both empty", fix="give the row an instruction")
        model_a = model_b = None
        cmp_key = f.text("cmp_key", required=False)
        if cmp_key and "_" in cmp_key:
            model_a, model_b = cmp_key.split("_", 1)
        assert prompt is not None
        # the published file has empty responses and a JSON true where a model answered "True"
        resp_a = f.text("response1", allow_empty=True, allow_number="any")
        resp_b = f.text("response2", allow_empty=True, allow_number="any")
        assert resp_a is not None and resp_b is not None
        parsed.items.append(
            ItemRecord(
                where=f.where,
                external_id=idx,
                prompt=prompt,
                response_a=resp_a,
                response_b=resp_b,
                model_a=model_a,
                model_b=model_b,
                category=f.text("motivation_app", required=False),
                meta={"instruction": instruction, "input": extra_input or ""},
            )
        )
        for key in sorted(k for k in row.data if re.fullmatch(r"annotator\d+", k)):
            raw = f.integer(key)
            if raw not in HUMAN_VALUES:
                raise f.fail(key, "is not a PandaLM verdict", value=raw, fix="use 0 (tie), 1 or 2")
            parsed.labels.append(
                LabelRecord(
                    where=f.where,
                    external_id=idx,
                    annotator=key,
                    kind="human",
                    label=unresolved_label(HUMAN_VALUES[raw]),
                )
            )
    return parsed


def _judge_file(rows: list[Row], judge: str, max_chars: int) -> Parsed:
    parsed = Parsed(protocol="pairwise")
    for row in rows:
        f = Fields(row.where, row.data, max_chars)
        key = result_key(row.data)
        if key is None:
            raise f.fail(
                "*_result", "no single '<judge>_result' field in this row", fix="give each row one '<judge>_result'"
            )
        prefix = key.removesuffix("_result")
        raw = row.data.get(key)
        text = "" if raw is None else str(raw).strip()
        value = JUDGE_VALUES.get(text.lower())
        reason = f.text(f"{prefix}_reason", required=False)
        meta = {"reference": row.data.get(f"{prefix}_reference")} if row.data.get(f"{prefix}_reference") else None
        parsed.labels.append(
            LabelRecord(
                where=f.where,
                external_id=f.ident("idx"),
                annotator=judge,
                kind="llm_judge",
                label=unresolved_label(
                    value,
                    status="submitted" if value is not None else "failed",
                    rationale=reason,
                    raw_output=text if text else repr(raw),
                    error=None if value is not None else f"unparseable verdict {text!r}",
                    meta=meta,
                ),
            )
        )
    return parsed
