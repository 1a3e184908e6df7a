"""Reading a judge's answer. Anything that is not a verdict from the label set is a failure, kept
with its raw text; nothing is guessed or coerced."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.vocab import plurality

_VERDICT = re.compile(r'"verdict"\s*:\s*"([^"]{1,16})"')


@dataclass(frozen=True)
class Parsed:
    option: str | None
    rationale: str | None = None
    error: str | None = None


def reasoning_schema(options: list[str]) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "maxLength": 400},
            "verdict": {"type": "string", "enum": options},
        },
        "required": ["rationale", "verdict"],
        "additionalProperties": False,
    }


def questions_schema(asks: Sequence[Any]) -> dict[str, object]:
    """The JSON object a judge answers several questions with: a rationale, then one field per
    question (its key), each an enum of its options."""
    properties: dict[str, object] = {"rationale": {"type": "string", "maxLength": 400}}
    for ask in asks:
        properties[ask.key] = {"type": "string", "enum": list(ask.options)}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def parse_questions(text: str, asks: Sequence[Any]) -> tuple[str | None, dict[str, Parsed]]:
    """A JSON object with a field per question: (the rationale, each question's answer or the reason
    it has none). A question the reply misses, or answers off its options, fails alone."""
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError as exc:
        data = None
        whole = f"the output is not a JSON object ({exc.msg})"
    else:
        whole = "the output is not a JSON object"
    if not isinstance(data, dict):
        return None, {ask.key: Parsed(None, None, whole) for ask in asks}
    rationale = data.get("rationale") if isinstance(data.get("rationale"), str) else None
    out: dict[str, Parsed] = {}
    for ask in asks:
        if ask.key not in data:
            out[ask.key] = Parsed(None, None, f"the reply has no answer to question {ask.key!r}")
            continue
        answer = str(data[ask.key]).strip()
        out[ask.key] = (
            Parsed(answer, rationale)
            if answer in ask.options
            else Parsed(None, None, f"question {ask.key!r}: answer {answer[:40]!r} is not one of {list(ask.options)}")
        )
    return rationale, out


def parse_reasoning(text: str, options: list[str]) -> Parsed:
    """A JSON object ``{"rationale", "verdict"}``. A truncated object whose ``"verdict": "X"`` field
    is complete is accepted (the field is there, verbatim); anything else fails."""
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        verdict = str(data.get("verdict", "")).strip()
        rationale = data.get("rationale")
        if verdict in options:
            return Parsed(verdict, rationale if isinstance(rationale, str) else None)
        return Parsed(None, None, f"verdict {verdict!r} is not one of {options}")
    match = _VERDICT.search(stripped)
    if match and match.group(1).strip() in options:
        rationale_match = re.search(r'"rationale"\s*:\s*"((?:[^"\\]|\\.)*)"', stripped)
        return Parsed(match.group(1).strip(), rationale_match.group(1) if rationale_match else None)
    return Parsed(None, None, "no verdict from the label set in the output")


def _option_of(token: str, options: list[str]) -> str | None:
    """The option a first token begins (an option itself, or the start of exactly one option: the
    options of a logprobs question begin with different characters, ``prompts.check_first_tokens``)."""
    key = token.strip()
    if key in options:
        return key
    if not key:
        return None
    found = [o for o in options if o.startswith(key)]
    return found[0] if len(found) == 1 else None


def parse_choice(text: str, options: list[str]) -> Parsed:
    option = _option_of(text, options)
    if option is not None:
        return Parsed(option)
    return Parsed(None, None, f"answer {text.strip()[:40]!r} is not one of {options}")


def option_probabilities(top: list[tuple[str, float]], options: list[str]) -> dict[str, float] | None:
    """P(option) from one position's top logprobs (each token counted for the option it begins),
    renormalized over the options (None when no option is among them)."""
    mass: dict[str, float] = {}
    for token, logprob in top:
        key = _option_of(token, options)
        if key is not None and logprob > -1e4:
            mass[key] = mass.get(key, 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return None
    return {o: mass.get(o, 0.0) / total for o in options}


def majority(values: list[str], *, pairwise: bool) -> str:
    """The samples' verdict: ``contracts.plurality`` with a shared top count read as a tie (pairwise)
    or the median (scales)."""
    verdict = plurality(values, on_shared="tie" if pairwise else "median")
    if verdict is None:
        raise ValueError("majority() needs at least one value")
    return verdict
