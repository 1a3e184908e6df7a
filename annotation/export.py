"""Exports: ``long`` (one row per label, with provenance; re-imports with ``--format labels`` to the
identical labels), ``wide`` (one row per item, each rater's label and the human majority), ``dpo``
(``prompt, chosen, rejected`` as TRL's DPO trainer reads it) and ``hf`` (a ``datasets`` folder).
Files are written next to themselves and moved into place, so a failed export leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation.catalog import get_task
from annotation.errors import JudgelabError
from annotation.files import write_atomically
from annotation.label_frames import items_frame, labels_frame
from annotation.models import Annotator
from annotation.schema import TaskSchema, parse_schema, split_key
from contracts.columns import ITEM_COLUMNS, LABEL_COLUMNS
from contracts.vocab import (
    DEFAULT_MIN_VOTES,
    EXPORT_FORMATS,
    MAJORITY_RULE,
    VERDICT_RULE,
    majority_verdict,
    rater_verdict,
)

# the long export is the label frame in the export's names: the item's external id as ``item_id``, the
# annotator's kind and stored config beside each label; database ids and the derived ``confidence_p``
# stay out (a re-import rebuilds them)
_LONG_NAMES = {"external_id": "item_id", "kind": "annotator_kind"}
_NOT_EXPORTED = frozenset({"label_id", "item_id", "confidence_p"})
# a gold item's answer stays out of exports, and a multi-turn item's conversation (its judged turn's
# text is in prompt/response_a/response_b)
_ITEM_FIELDS_NOT_EXPORTED = frozenset({"gold", "conversation"})
LONG_COLUMNS = [
    "task",
    *(_LONG_NAMES.get(c, c) for c in LABEL_COLUMNS if c not in _NOT_EXPORTED),
    "annotator_config",
    "skip_reason",  # a skipped label's reason, also in its metadata (the importer reads it from there)
]


def long_frame(session: Session, task_name: str) -> pd.DataFrame:
    """``label_frames.labels_frame`` in the export's column contract: the item's external id, the annotator's
    kind and stored config beside every label."""
    task = get_task(session, task_name)
    frame = labels_frame(session, task.id)
    names = frame["annotator"].unique().tolist()
    configs: dict[str, Any] = dict(
        session.execute(select(Annotator.name, Annotator.config).where(Annotator.name.in_(names))).all()
    )
    out = frame.drop(columns=["label_id", "item_id"]).rename(columns=_LONG_NAMES)
    out["annotator_config"] = [configs.get(name) for name in out["annotator"]]
    out["skip_reason"] = [
        (meta or {}).get("reason") if status == "skipped" and isinstance(meta, dict) else None
        for status, meta in zip(out["status"], out["metadata"], strict=True)
    ]
    out.insert(0, "task", task.name)
    return out[LONG_COLUMNS]


def _items(session: Session, task_id: int) -> pd.DataFrame:
    """The item fields an export carries; ``item_id`` is the external id, ``id`` the database id."""
    columns = [c for c in ITEM_COLUMNS if c not in _ITEM_FIELDS_NOT_EXPORTED]
    return items_frame(session, task_id)[columns].rename(columns={"item_id": "id", "external_id": "item_id"})


def rater_verdicts(labels: pd.DataFrame) -> dict[tuple[Any, str], str | None]:
    """Each (item, rater)'s verdict from its submitted labels of one question
    (``contracts.vocab.rater_verdict``: the same rule as the analysis and the dashboard)."""
    sub = labels[labels["status"] == "submitted"]
    values: dict[tuple[Any, str], list[Any]] = {}
    probs: dict[tuple[Any, str], list[Any]] = {}
    has_probs = "probabilities" in sub.columns
    for row in sub.itertuples(index=False):
        key = (row.item_id, str(row.annotator))
        values.setdefault(key, []).append(row.value)
        probs.setdefault(key, []).append(row.probabilities if has_probs else None)
    return {key: rater_verdict(vals, probs[key]) for key, vals in values.items()}


def rules(min_votes: int) -> str:
    """The rules every exported verdict and majority follows, as one sentence for the files."""
    return f"{VERDICT_RULE}; {MAJORITY_RULE.format(min_votes=min_votes)}"


def wide_frame(session: Session, task_name: str, *, min_votes: int = DEFAULT_MIN_VOTES) -> pd.DataFrame:
    """One row per item: its fields, each rater's verdict (column ``label:<name>``, by
    ``contracts.vocab.VERDICT_RULE``), the human majority (None when there is none: fewer than
    ``min_votes`` human verdicts or a split), the number of human verdicts and the ``rule`` applied.
    A task of several questions has these columns per question, named ``label:<question>:<name>``,
    ``human_majority:<question>`` and ``human_votes:<question>`` (a checklist entry is a question)."""
    task = get_task(session, task_name)
    out = _items(session, task.id).drop(columns=["id"])
    labels = long_frame(session, task_name)
    kinds = dict(zip(labels["annotator"], labels["annotator_kind"], strict=False))
    asked = parse_schema(task.label_schema)
    keys = (
        [asked.first.name] if asked.single_question else sorted(labels["question"].unique(), key=_question_order(asked))
    )
    for key in keys:
        suffix = "" if asked.single_question else f":{key}"
        verdicts = rater_verdicts(labels[labels["question"] == key])
        per_rater = pd.Series(verdicts, dtype=object)
        if len(per_rater):
            per_rater.index = pd.MultiIndex.from_tuples(list(verdicts), names=["item_id", "annotator"])
            table = per_rater.unstack("annotator")
        else:
            table = pd.DataFrame(index=pd.Index([], name="item_id"))
        table.columns = [f"label{suffix}:{c}" for c in table.columns]
        human: dict[Any, list[str | None]] = {}
        for (item, rater), verdict in verdicts.items():
            if kinds.get(rater) == "human":
                human.setdefault(item, []).append(verdict)
        out = out.merge(table, left_on="item_id", right_index=True, how="left")
        out[f"human_majority{suffix}"] = [
            majority_verdict(human.get(i, []), min_votes=min_votes) for i in out["item_id"]
        ]
        out[f"human_votes{suffix}"] = [len(human.get(i, [])) for i in out["item_id"]]
    out["rule"] = rules(min_votes)
    out["metadata"] = out["metadata"].map(lambda m: json.dumps(m) if isinstance(m, dict) else None)
    return out


def _question_order(schema: TaskSchema) -> Any:
    names = schema.names

    def order(key: str) -> tuple[int, int]:
        name, entry = split_key(key)
        return (names.index(name) if name in names else len(names), int(entry) if entry and entry.isdigit() else 0)

    return order


def dpo_question(schema: TaskSchema, question: str | None) -> str:
    """The pairwise question a DPO export reads: the named one, or the task's first pairwise question."""
    if question is not None:
        asked = schema.question(question)
        if asked.kind != "pairwise":
            raise JudgelabError(
                f"question {question!r} is {asked.kind}, and a DPO export needs a pairwise question",
                fix=f"name one of {[q.name for q in schema.questions if q.kind == 'pairwise']}",
            )
        return asked.name
    first = schema.first_of("pairwise")
    if first is None:
        raise JudgelabError("the task asks no pairwise question: nothing to prefer", fix="export long or wide")
    return first.name


def dpo_frame(
    session: Session,
    task_name: str,
    raters: Sequence[str] | None = None,
    *,
    min_votes: int | None = None,
    question: str | None = None,
) -> pd.DataFrame:
    """``prompt, chosen, rejected`` from the majority verdict of ``raters`` (default: the humans), each
    rater's verdict by ``contracts.vocab.VERDICT_RULE``; items whose majority is a tie, or that have
    none (a split, or fewer than ``min_votes`` verdicts: default 2, or 1 when one rater is named),
    are left out. Provenance columns: who decided, how many verdicts (``n_votes``), how many of them
    chose the winner (``n_agree``), the ``question`` and the ``rule``. ``question``: the pairwise
    question read (default: the task's first). Raises, naming the counts, when no item is left."""
    task = get_task(session, task_name)
    if task.protocol != "pairwise":
        raise JudgelabError(
            f"a DPO export needs a pairwise task; {task_name!r} is {task.protocol}",
            fix="export --format long or wide instead",
        )
    items = _items(session, task.id).set_index("item_id")
    asked = dpo_question(parse_schema(task.label_schema), question)
    labels = long_frame(session, task_name)
    labels = labels[labels["question"] == asked]
    if raters:
        unknown = sorted(set(raters) - set(labels["annotator"]))
        if unknown:
            raise JudgelabError(f"no labels from {unknown} in task {task_name!r}", fix="check the --raters names")
        chosen_raters = labels["annotator"].isin(raters)
        source = ",".join(raters)
    else:
        chosen_raters = labels["annotator_kind"] == "human"
        source = "human majority"
    needed = min_votes if min_votes is not None else (1 if raters and len(raters) == 1 else DEFAULT_MIN_VOTES)
    per_item: dict[Any, list[str | None]] = {}
    for (item, _), verdict in rater_verdicts(labels[chosen_raters]).items():
        per_item.setdefault(item, []).append(verdict)
    rows = []
    skipped = {"tie": 0, "no majority": 0}
    for item_id in sorted(per_item, key=str):
        verdicts = per_item[item_id]
        verdict = majority_verdict(verdicts, min_votes=needed)
        if verdict not in ("A", "B"):
            skipped["tie" if verdict is not None else "no majority"] += 1
            continue
        item = items.loc[item_id]
        chosen, rejected = (
            (item["response_a"], item["response_b"]) if verdict == "A" else (item["response_b"], item["response_a"])
        )
        rows.append(
            {
                "prompt": item["prompt"],
                "chosen": chosen,
                "rejected": rejected,
                "item_id": item_id,
                "chosen_model": item["model_a"] if verdict == "A" else item["model_b"],
                "rejected_model": item["model_b"] if verdict == "A" else item["model_a"],
                "n_votes": len(verdicts),
                "n_agree": sum(v == verdict for v in verdicts),
                "source": source,
                "question": asked,
                "rule": rules(needed),
            }
        )
    if not rows:
        raise JudgelabError(
            f"no item of task {task_name!r} has an A or B majority from {source}: {skipped['tie']} items are ties "
            f"(or both bad), {skipped['no majority']} have no majority of {needed} verdicts, "
            f"{len(items) - len(per_item)} have no labels from them",
            fix="choose other --raters, lower --min-votes, or collect more labels",
        )
    return pd.DataFrame(rows, columns=DPO_COLUMNS)


DPO_COLUMNS = [
    "prompt",
    "chosen",
    "rejected",
    "item_id",
    "chosen_model",
    "rejected_model",
    "n_votes",
    "n_agree",
    "source",
    "rule",
    "question",
]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a
    carriage return) gets a leading apostrophe (OWASP's advice for CSV injection); numbers and other
    text are unchanged. Only the CSV export does this: JSONL and Parquet stay exact for re-import.

    >>> print(neutralise_formula('=HYPERLINK("http://x")'), neutralise_formula("-1"), neutralise_formula(-1.5))
    '=HYPERLINK("http://x") '-1 -1.5
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    """Write by extension (.jsonl, .csv, .parquet), atomically (``annotation.files``); a CSV's text
    cells cannot run as spreadsheet formulas (:func:`neutralise_formula`)."""
    suffix = out.suffix.lower()
    if suffix not in (".jsonl", ".csv", ".parquet"):
        raise JudgelabError(
            f"cannot tell the export file type from {out.name!r}",
            fix="end --out with .jsonl, .csv or .parquet (or use --format hf --out DIR)",
        )
    data = frame.copy()
    if "judge_run_id" in data.columns:
        data["judge_run_id"] = data["judge_run_id"].astype("Int64")  # an id, not a float with NaN
    for col in ("probabilities", "annotator_config", "metadata"):
        if col in data.columns and suffix == ".csv":
            data[col] = data[col].map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else v)
    for col in ("created_at", "updated_at"):
        if col in data.columns:
            data[col] = data[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)

    def write(tmp: Path) -> None:
        if suffix == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for record in data.to_dict("records"):
                    fh.write(json.dumps({k: _plain(v) for k, v in record.items()}, ensure_ascii=False) + "\n")
        elif suffix == ".csv":
            text_columns = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
            safe = data.assign(**{c: data[c].map(neutralise_formula) for c in text_columns})
            safe.to_csv(tmp, index=False)
        else:
            _write_parquet(data, tmp)

    write_atomically(out, write)


def _write_parquet(data: pd.DataFrame, path: Path) -> None:
    """Parquet with typed columns: ``probabilities`` a map of value to probability, ``metadata`` and
    ``annotator_config`` structs (pyarrow's inference over every row); a column whose rows cannot
    share one struct type (a key holding a number in one row and text in another) is written as JSON
    text, which the importer reads as well."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {}
    for col in data.columns:
        values = [None if _missing(v) else v for v in data[col].tolist()]
        if col == "probabilities":
            pairs = [None if not isinstance(v, dict) else list(v.items()) for v in values]
            columns[col] = pa.array(pairs, type=pa.map_(pa.string(), pa.float64()))
        elif col in ("metadata", "annotator_config"):
            objects = [v if isinstance(v, dict) and v else None for v in values]
            try:
                array = pa.array(objects)
                if not pa.types.is_struct(array.type) and not pa.types.is_null(array.type):
                    raise TypeError(array.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
                array = pa.array([None if v is None else json.dumps(v) for v in objects], type=pa.string())
            columns[col] = array
        else:
            columns[col] = pa.Array.from_pandas(data[col])
    pq.write_table(pa.table(columns), path)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def export(
    session: Session,
    task: str,
    fmt: str,
    out: Path,
    *,
    raters: Sequence[str] | None = None,
    min_votes: int | None = None,
    question: str | None = None,
) -> int:
    """Export ``task`` as ``fmt`` to ``out``; returns the number of rows. ``min_votes``: the fewest
    verdicts a majority needs (wide, dpo; default 2, or 1 for a DPO export of one named rater)."""
    if fmt not in EXPORT_FORMATS:
        raise JudgelabError(f"unknown export format {fmt!r}", fix=f"use one of {list(EXPORT_FORMATS)}")
    if fmt == "hf":
        return export_hf(session, task, out)
    frame = {
        "long": lambda: long_frame(session, task),
        "wide": lambda: wide_frame(session, task, min_votes=min_votes or DEFAULT_MIN_VOTES),
        "dpo": lambda: dpo_frame(session, task, raters, min_votes=min_votes, question=question),
    }[fmt]()
    write_frame(frame, out)
    return len(frame)


def export_hf(session: Session, task: str, out: Path) -> int:
    """A Hugging Face ``datasets`` folder (``save_to_disk``) with splits ``labels`` and ``dpo``."""
    try:
        from datasets import Dataset, DatasetDict
    except ImportError:
        raise JudgelabError("--format hf needs the 'datasets' package", fix="pip install 'judgelab[hf]'") from None
    long = long_frame(session, task)
    for col in ("probabilities", "annotator_config", "metadata"):
        long[col] = long[col].map(lambda v: json.dumps(v) if isinstance(v, (dict, list)) else None)
    for col in ("created_at", "updated_at"):
        long[col] = long[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else None)
    splits = {"labels": Dataset.from_pandas(long, preserve_index=False)}
    if get_task(session, task).protocol == "pairwise":
        try:
            dpo = dpo_frame(session, task)
        except JudgelabError:  # no decisive human majority yet: the split is there, empty
            dpo = pd.DataFrame(columns=DPO_COLUMNS)
        splits["dpo"] = Dataset.from_pandas(dpo, preserve_index=False)
    DatasetDict(splits).save_to_disk(str(out))
    return len(long)
