"""Prompts: the judge sees the task's own guidelines (the text human annotators read) first, then
the item. Built-in templates live in ``templates/``; a config may name its own Jinja file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from annotation.errors import ConfigError
from annotation.judges.config import JudgeConfig

PAIRWISE_OPTIONS = ("A", "B", "C")  # what the judge answers; C is a tie


@dataclass(frozen=True)
class ItemView:
    """The item fields a prompt may use."""

    item_id: int
    prompt: str
    response_a: str
    response_b: str | None
    reference: str | None = None
    conversation: dict[str, Any] | None = None


@dataclass(frozen=True)
class JudgeRequest:
    item_id: int
    presented_order: str
    messages: list[dict[str, str]]
    options: list[str]
    to_value: dict[str, str] = field(default_factory=dict)  # option -> value in the item's A/B frame
    error: str | None = None  # set when no request can be made (e.g. no reference answer)


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _transcript(messages: list[dict[str, str]] | None) -> str:
    if not messages:
        return ""
    return "\n".join(f"{m['role'].upper()}: {m['content']}" for m in messages)


def _side(item: ItemView, key: str, text: str | None) -> str:
    """A response, or for a multi-turn item the side's whole conversation, turn by turn."""
    conv = (item.conversation or {}).get(key)
    if isinstance(conv, list) and len(conv) > 2:
        return _transcript(conv) + "\n(The last ASSISTANT turn is the one to judge.)"
    return text or ""


def options_for(config: JudgeConfig, scale: tuple[int, int] | None) -> list[str]:
    if config.protocol.startswith("pairwise"):
        return list(PAIRWISE_OPTIONS)
    assert scale is not None
    low, high = scale
    if config.mode == "logprobs" and high > 9:
        raise ConfigError(
            f"mode 'logprobs' needs single-token answers, but the scale runs to {high}",
            fix="use mode: reasoning for scales above 9, or a 1-5 / 1-9 scale",
        )
    return [str(v) for v in range(low, high + 1)]


def build_request(
    config: JudgeConfig,
    template: str,
    *,
    instructions: str,
    item: ItemView,
    order: str,
    scale: tuple[int, int] | None = None,
) -> JudgeRequest:
    """The chat messages for one (item, presented order), and how to read the answer back."""
    options = options_for(config, scale)
    pairwise = config.protocol.startswith("pairwise")
    if config.protocol.endswith("_reference") and not item.reference:
        return JudgeRequest(item.item_id, order, [], options, error="the item has no reference answer")
    if pairwise:
        a, b = _side(item, "a", item.response_a), _side(item, "b", item.response_b)
        first, second = (a, b) if order == "ab" else (b, a)
        to_value = {"A": "A", "B": "B", "C": "tie"} if order == "ab" else {"A": "B", "B": "A", "C": "tie"}
    else:
        first, second = _side(item, "a", item.response_a), ""
        to_value = {o: o for o in options}
    prompt_conv = (item.conversation or {}).get("prompt")
    history = _transcript(prompt_conv[:-1]) if isinstance(prompt_conv, list) and len(prompt_conv) > 1 else ""
    env = _environment()
    variables = {
        "instructions": instructions.strip() or "Judge which response better serves the user.",
        "prompt": item.prompt,
        "first": first,
        "second": second,
        "history": history,
        "reference": item.reference if config.protocol.endswith("_reference") else None,
        "mode": config.mode,
        "scale_min": scale[0] if scale else None,
        "scale_max": scale[1] if scale else None,
    }
    try:
        compiled = env.from_string(template)
        system = compiled.render(role="system", **variables).strip()
        user = compiled.render(role="user", **variables).strip()
    except TemplateError as exc:
        raise ConfigError(f"the judge template failed to render: {exc}", fix="check the template's variables") from None
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return JudgeRequest(item.item_id, order, messages, options, to_value)
