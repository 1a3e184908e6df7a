"""Generic item rows.

pairwise: ``id, prompt, response_a, response_b`` + optional ``model_a, model_b, reference, category,
gold``; single: ``id, prompt, response`` + optional ``model, reference, category, gold, checklist``.
Any other column is kept as item metadata. A prompt or response may be a conversation (list of
{role, content}). ``gold`` is the known answer of a gold item: a value (the task's first question) or
an object ``{question: value}``; ``checklist`` is a list of YES/NO questions about the response (TICK).
"""

from __future__ import annotations

import json
from typing import Any

from annotation.formats.records import Fields, ItemRecord, Parsed
from annotation.readers import Row

PAIRWISE_KEYS = {"id", "prompt", "response_a", "response_b", "model_a", "model_b", "reference", "category", "gold"}
SINGLE_KEYS = {"id", "prompt", "response", "model", "reference", "category", "gold", "checklist"}


def parse_generic(rows: list[Row], *, protocol: str, max_chars: int) -> Parsed:
    parsed = Parsed(protocol=protocol)
    for row in rows:
        f = Fields(row.where, row.data, max_chars)
        parsed.items.append(_pairwise(f) if protocol == "pairwise" else _single(f))
    return parsed


def _meta(f: Fields, known: set[str]) -> dict[str, Any] | None:
    meta: dict[str, Any] = {}
    for key, value in f.data.items():
        if key in known or value is None or value == "":
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise f.fail(key, "cannot be stored as metadata (not JSON-serializable)", value=value) from None
        meta[key] = value
    return meta or None


def _pairwise(f: Fields) -> ItemRecord:
    external_id = f.ident("id")
    prompt, prompt_msgs = f.conversation_or_text("prompt", role="user")
    resp_a, conv_a = f.conversation_or_text("response_a", role="assistant", allow_empty=True)
    resp_b, conv_b = f.conversation_or_text("response_b", role="assistant", allow_empty=True)
    conversation = None
    if prompt_msgs or conv_a or conv_b:
        conversation = {"prompt": prompt_msgs, "a": conv_a, "b": conv_b}
    assert prompt is not None and resp_a is not None and resp_b is not None
    return ItemRecord(
        where=f.where,
        external_id=external_id,
        prompt=prompt,
        response_a=resp_a,
        response_b=resp_b,
        model_a=f.text("model_a", required=False, allow_number=True),
        model_b=f.text("model_b", required=False, allow_number=True),
        reference=f.text("reference", required=False),
        category=f.text("category", required=False, allow_number=True),
        conversation=conversation,
        gold=f.gold(),
        meta=_meta(f, PAIRWISE_KEYS),
    )


def _single(f: Fields) -> ItemRecord:
    external_id = f.ident("id")
    prompt, prompt_msgs = f.conversation_or_text("prompt", role="user")
    response, conv = f.conversation_or_text("response", role="assistant", allow_empty=True)
    assert prompt is not None and response is not None
    conversation = {"prompt": prompt_msgs, "a": conv, "b": None} if (prompt_msgs or conv) else None
    return ItemRecord(
        where=f.where,
        external_id=external_id,
        prompt=prompt,
        response_a=response,
        model_a=f.text("model", required=False, allow_number=True),
        reference=f.text("reference", required=False),
        category=f.text("category", required=False, allow_number=True),
        conversation=conversation,
        gold=f.gold(),
        checklist=f.checklist(),
        meta=_meta(f, SINGLE_KEYS),
    )
