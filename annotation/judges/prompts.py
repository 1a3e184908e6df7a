"""Prompts: the judge sees the task's own guidelines (the text human annotators read) first, then
the item. Built-in templates live in ``templates/``; a config may name its own Jinja file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from annotation.errors import ConfigError
from annotation.judges.config import JudgeConfig
from annotation.judges.parsing import questions_schema, reasoning_schema
from annotation.schema import PairwiseSchema, TaskSchema, checklist_entries, entry_key

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
class Ask:
    """One question put to the judge: the label's question (``key``), its words, what the judge may
    answer (``options``) and how each answer reads as a stored value (``to_value``: for a pairwise
    question, the shown order's A/B/C back to the item's A/B frame)."""

    key: str
    text: str
    kind: str
    options: list[str]
    to_value: dict[str, str]


@dataclass(frozen=True)
class JudgeRequest:
    item_id: int
    presented_order: str
    messages: list[dict[str, str]]
    options: list[str]
    to_value: dict[str, str] = field(default_factory=dict)  # option -> value in the item's A/B frame
    error: str | None = None  # set when no request can be made (e.g. no reference answer)
    # a task of several questions: the questions this request asks (all in reasoning mode, one in
    # logprobs mode), each answered as its own label; empty for the one-question templates
    asks: tuple[Ask, ...] = ()
    schema_override: dict[str, object] | None = None  # another structured output (a checklist's)

    @property
    def json_schema(self) -> dict[str, object]:
        """The structured output the reasoning mode asks for."""
        if self.schema_override is not None:
            return self.schema_override
        return questions_schema(self.asks) if self.asks else reasoning_schema(self.options)


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


def _item_variables(config: JudgeConfig, item: ItemView, order: str, *, second_if_single: str | None) -> dict[str, Any]:
    """What every template reads of the item: the prompt, the responses in the order shown (one, and
    ``second_if_single``, for a single-answer task), the earlier conversation, the reference (for the
    ``_reference`` protocols) and the mode."""
    first: str = _side(item, "a", item.response_a)
    second: str | None = second_if_single
    if config.protocol.startswith("pairwise"):
        b = _side(item, "b", item.response_b)
        first, second = (first, b) if order == "ab" else (b, first)
    prompt_conv = (item.conversation or {}).get("prompt")
    history = _transcript(prompt_conv[:-1]) if isinstance(prompt_conv, list) and len(prompt_conv) > 1 else ""
    return {
        "prompt": item.prompt,
        "first": first,
        "second": second,
        "history": history,
        "reference": item.reference if config.protocol.endswith("_reference") else None,
        "mode": config.mode,
    }


def pairwise_answers(order: str) -> dict[str, str]:
    """What a pairwise answer (A, B, C = tie) means in the item's A/B frame, for the order shown."""
    return {"A": "A", "B": "B", "C": "tie"} if order == "ab" else {"A": "B", "B": "A", "C": "tie"}


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
    to_value = pairwise_answers(order) if pairwise else {o: o for o in options}
    variables = {
        **_item_variables(config, item, order, second_if_single=""),
        "instructions": instructions.strip() or "Judge which response better serves the user.",
        "scale_min": scale[0] if scale else None,
        "scale_max": scale[1] if scale else None,
    }
    return JudgeRequest(item.item_id, order, render_messages(template, variables), options, to_value)


def asks_questions(schema: TaskSchema) -> bool:
    """Whether a task's questions need the questions template: several questions, or one that the
    one-question templates cannot ask (a category, a checklist); a lone pairwise or scale question
    keeps the template (and the judge identity) it always had."""
    return not schema.single_question or schema.first.kind not in ("pairwise", "scale")


def item_asks(schema: TaskSchema, checklist: dict[str, Any] | None, order: str, *, mode: str) -> list[Ask]:
    """The questions of one item in one presented order, as the judge is asked them. A checklist is
    one question per entry of the item's checklist (none while the item has none). In logprobs mode
    every answer must be told apart by its first token: options that begin alike are refused."""
    asks: list[Ask] = []
    for q in schema.questions:
        text = q.text or q.name.replace("_", " ")
        if isinstance(q, PairwiseSchema):
            back = pairwise_answers(order)
            if "tie" not in q.choices:
                back.pop("C")
            asks.append(Ask(q.name, f"Which response is better ({text})?", "pairwise", list(back), back))
        elif q.kind == "checklist":
            for k, entry in enumerate(checklist_entries(checklist), start=1):
                asks.append(Ask(entry_key(q.name, k), entry, "checklist", list(q.choices), {c: c for c in q.choices}))
        elif q.kind == "numeric":
            raise ConfigError(
                f"question {q.name!r} takes any number, which a judge cannot answer from a list",
                fix="declare it as a scale (whole numbers) or a choice",
            )
        else:
            asks.append(Ask(q.name, text, q.kind, list(q.choices), {c: c for c in q.choices}))
    if mode == "logprobs":
        for ask in asks:
            check_first_tokens(ask)
    return asks


def check_first_tokens(ask: Ask) -> None:
    """Logprobs mode reads one token: two options that begin with the same character may share their
    first token, and then cannot be told apart. Raised at plan time, before any request."""
    firsts: dict[str, str] = {}
    for option in ask.options:
        head = option.strip()[:1].casefold()
        if head in firsts:
            raise ConfigError(
                f"question {ask.key!r}: options {firsts[head]!r} and {option!r} begin alike, so their first "
                "tokens may be the same and mode 'logprobs' could not tell them apart",
                fix="use mode: reasoning for this task, or options that begin with different characters",
            )
        firsts[head] = option


def build_question_request(
    config: JudgeConfig,
    template: str,
    *,
    instructions: str,
    item: ItemView,
    order: str,
    asks: list[Ask],
) -> JudgeRequest:
    """The chat messages for one (item, order) of a task of several questions: every question in
    reasoning mode, the one question of ``asks`` in logprobs mode."""
    if config.protocol.endswith("_reference") and not item.reference:
        return JudgeRequest(item.item_id, order, [], [], error="the item has no reference answer", asks=tuple(asks))
    variables = {
        **_item_variables(config, item, order, second_if_single=None),
        "instructions": instructions.strip() or "Judge the response as the questions ask.",
        "questions": [ask.__dict__ for ask in asks],
        "question": asks[0].__dict__ if asks else None,
    }
    messages = render_messages(template, variables)
    head = asks[0] if asks else Ask("", "", "", [], {})
    return JudgeRequest(item.item_id, order, messages, head.options, head.to_value, asks=tuple(asks))


def render_messages(template: str, variables: dict[str, Any]) -> list[dict[str, str]]:
    try:
        compiled = _environment().from_string(template)
        system = compiled.render(role="system", **variables).strip()
        user = compiled.render(role="user", **variables).strip()
    except TemplateError as exc:
        raise ConfigError(f"the judge template failed to render: {exc}", fix="check the template's variables") from None
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
