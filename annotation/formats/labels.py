"""The long label format that ``judgelab export --format long`` writes, read back so exports round-trip.

Required: ``item_id`` (the item's external id), ``annotator``, and ``value`` for submitted labels.
Optional: ``question`` (the task's only question; a task with several needs it), ``annotator_kind``
(human), ``status`` (submitted), ``presented_order`` (ab), ``replicate`` (0), ``rationale``,
``confidence``, ``probabilities``, ``raw_output``, ``error``, ``duration_ms``,
``annotator_config``, ``metadata``.
"""

from __future__ import annotations

from annotation.formats.records import Fields, LabelRecord, Parsed, unresolved_label
from annotation.readers import Row
from contracts.vocab import ANNOTATOR_KINDS


def parse_labels(rows: list[Row], *, protocol: str, max_chars: int) -> Parsed:
    parsed = Parsed(protocol=protocol)
    for row in rows:
        f = Fields(row.where, row.data, max_chars)
        has = row.data.get  # an absent optional field is not read at all: most rows have few of them
        kind = (f.text("annotator_kind", required=False) if has("annotator_kind") is not None else None) or "human"
        if kind not in ANNOTATOR_KINDS:
            raise f.fail("annotator_kind", f"unknown kind {kind!r}", fix=f"use one of {list(ANNOTATOR_KINDS)}")
        status = (f.text("status", required=False) if has("status") is not None else None) or "submitted"
        value = f.text("value", required=status == "submitted", allow_number=True)
        probabilities = f.json_value("probabilities") if has("probabilities") is not None else None
        if probabilities is not None and not isinstance(probabilities, dict):
            raise f.fail("probabilities", 'must be a JSON object like {"A": 0.7, "B": 0.3}', value=probabilities)
        config = f.json_value("annotator_config") if has("annotator_config") is not None else None
        if config is not None and not isinstance(config, dict):
            raise f.fail("annotator_config", "must be a JSON object", value=config)
        meta = f.json_value("metadata") if has("metadata") is not None else None
        if meta is not None and not isinstance(meta, dict):
            raise f.fail("metadata", "must be a JSON object", value=meta)
        optional = {
            name: f.text(name, required=False)
            for name in ("question", "rationale", "raw_output", "error")
            if has(name) is not None
        }
        parsed.labels.append(
            LabelRecord(
                where=f.where,
                external_id=f.ident("item_id"),
                annotator=f.ident("annotator"),
                kind=kind,
                label=unresolved_label(
                    value,
                    status=status,
                    presented_order=(f.text("presented_order", required=False) if has("presented_order") else None)
                    or "ab",
                    replicate=(f.integer("replicate", required=False, default=0) if has("replicate") is not None else 0)
                    or 0,
                    confidence=f.number("confidence") if has("confidence") is not None else None,
                    duration_ms=f.integer("duration_ms", required=False) if has("duration_ms") is not None else None,
                    meta=meta,
                    probabilities=probabilities,
                    **optional,
                ),
                annotator_config=config,
            )
        )
    return parsed
