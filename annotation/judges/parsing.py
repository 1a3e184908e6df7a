"""Reading a judge's answer. Anything that is not a verdict from the label set is a failure, kept
with its raw text; nothing is guessed or coerced."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

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


def parse_choice(text: str, options: list[str]) -> Parsed:
    token = text.strip()
    if token in options:
        return Parsed(token)
    return Parsed(None, None, f"answer {token[:40]!r} is not one of {options}")


def option_probabilities(top: list[tuple[str, float]], options: list[str]) -> dict[str, float] | None:
    """P(option) from one position's top logprobs, renormalized over the options (None when no
    option is among them)."""
    mass: dict[str, float] = {}
    for token, logprob in top:
        key = token.strip()
        if key in options and logprob > -1e4:
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
