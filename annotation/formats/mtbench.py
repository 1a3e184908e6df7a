"""The public MT-Bench human judgments schema.

Rows: ``question_id, model_a, model_b, winner, judge, conversation_a, conversation_b, turn``.
One item per (question, unordered model pair, turn), keyed as FastChat's agreement script does:
model names sorted, the winner flipped when the vote's own order is the reverse; that own order is
kept as the label's ``presented_order``. ``judge`` is a string (``expert_12``, ``author_3``,
``gpt4_pair``) or a list (``["gpt-4", "pair-v2"]`` -> ``gpt-4/pair-v2``); ``expert_*`` and
``author_*`` are humans, every other judge is an ``llm_judge``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from annotation.formats.records import Fields, ItemRecord, LabelRecord, Parsed, unresolved_label
from annotation.readers import Row
from contracts.vocab import flip_pairwise

WINNERS = {
    "model_a": "A",
    "model_b": "B",
    "tie": "tie",
    "tie (bothbad)": "bothbad",
    "tie (inconsistent)": "tie",
}
KNOWN = {"question_id", "model_a", "model_b", "winner", "judge", "conversation_a", "conversation_b", "turn"}


def judge_name(f: Fields) -> str:
    value = f.json_value("judge")
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return "/".join(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise f.fail(
        "judge", "must be a name or a list of names", value=value, fix='write "expert_1" or ["gpt-4", "pair-v2"]'
    )


def judge_kind(name: str) -> str:
    return "human" if name.startswith(("expert_", "author_")) else "llm_judge"


def parse_mtbench(rows: list[Row], *, max_chars: int) -> Parsed:
    parsed = Parsed(protocol="pairwise")
    items: dict[str, ItemRecord] = {}
    occurrences: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        f = Fields(row.where, row.data, max_chars)
        qid = f.ident("question_id")
        model_a = f.ident("model_a")
        model_b = f.ident("model_b")
        if model_a == model_b:
            raise f.fail("model_b", "is the same model as model_a", value=model_b)
        winner_raw = f.text("winner")
        assert winner_raw is not None
        winner = WINNERS.get(winner_raw.strip())
        if winner is None:
            raise f.fail("winner", "is not an MT-Bench verdict", value=winner_raw, fix=f"use one of {list(WINNERS)}")
        turn = f.integer("turn")
        assert turn is not None
        if turn < 1:
            raise f.fail("turn", "must be 1 or more", value=turn)
        conv_a = _conversation(f, "conversation_a", turn)
        conv_b = _conversation(f, "conversation_b", turn)
        name = judge_name(f)
        if model_a < model_b:
            first, second, order, value = model_a, model_b, "ab", winner
            sorted_a, sorted_b = conv_a, conv_b
        else:
            first, second, order, value = model_b, model_a, "ba", flip_pairwise(winner)
            sorted_a, sorted_b = conv_b, conv_a
        key = f"{qid}:{first}:{second}:t{turn}"
        if key not in items:
            user_turns = [m["content"] for m in sorted_a if m["role"] == "user"]
            items[key] = ItemRecord(
                where=f.where,
                external_id=key,
                prompt=user_turns[turn - 1],
                response_a=_assistant(sorted_a, turn),
                response_b=_assistant(sorted_b, turn),
                model_a=first,
                model_b=second,
                category=_category(row.data),
                conversation={"a": sorted_a[: 2 * turn], "b": sorted_b[: 2 * turn], "turn": turn},
                meta={"question_id": qid, "turn": turn},
            )
        occurrence = (key, name, order)
        replicate = occurrences[occurrence]
        occurrences[occurrence] += 1
        extra = {k: v for k, v in row.data.items() if k not in KNOWN and v not in (None, "")}
        parsed.labels.append(
            LabelRecord(
                where=f.where,
                external_id=key,
                annotator=name,
                kind=judge_kind(name),
                label=unresolved_label(
                    value,
                    presented_order=order,
                    replicate=replicate,
                    raw_output=winner_raw,
                    meta=_jsonable(extra) or None,
                ),
            )
        )
    parsed.items = list(items.values())
    return parsed


def _conversation(f: Fields, name: str, turn: int) -> list[dict[str, str]]:
    value = f.json_value(name)
    if not isinstance(value, list):
        raise f.fail(name, "must be a list of {role, content} messages", value=value)
    messages = f.messages(name, value)
    users = sum(1 for m in messages if m["role"] == "user")
    assistants = sum(1 for m in messages if m["role"] == "assistant")
    if users < turn or assistants < turn:
        raise f.fail(name, f"has {assistants} assistant turn(s), fewer than turn {turn}", fix="check 'turn'")
    return messages


def _assistant(messages: list[dict[str, str]], turn: int) -> str:
    return [m["content"] for m in messages if m["role"] == "assistant"][turn - 1]


def _category(data: dict[str, Any]) -> str | None:
    value = data.get("category")
    return value if isinstance(value, str) and value else None


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool, list, dict)) else str(v)) for k, v in extra.items()}
