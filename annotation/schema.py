"""Label schemas: the questions a task asks of every item, what values each accepts, and the number
each value stands for.

A task's schema (:class:`TaskSchema`) is one or more questions, each of a kind:

- ``pairwise``: which response is better, in the item's own A/B frame (A = response_a as stored):
  ``A``, ``B``, ``tie``, ``bothbad`` (a tie where both are bad); the number is the share of the
  preference that goes to A: 1, 0, 0.5, 0.5;
- ``choice``: one of named options (any strings); nominal, or ordered when ``ordered: true``; the
  number is the option's position (0, 1, ...);
- ``scale``: a whole number from ``min`` to ``max`` (a Likert scale); ``numeric``: any number in a range;
- ``checklist``: YES/NO for each entry of the item's checklist (TICK); each entry is its own label,
  question ``NAME.K`` (K from 1), value ``yes`` (1) or ``no`` (0).

A schema stored before questions existed (``{"kind": "pairwise", ...}``) reads as one question named
``verdict`` (:data:`contracts.vocab.DEFAULT_QUESTION`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from annotation.errors import LabelError
from contracts.vocab import (
    CHECKLIST_OPTIONS,
    DEFAULT_QUESTION,
    PAIRWISE_NUMBERS,
    PAIRWISE_VALUES,
    QUESTION_KINDS,
    TIE_VALUES,
    flip_pairwise,
)

__all__ = ["DEFAULT_QUESTION", "PAIRWISE_NUMBERS", "PAIRWISE_VALUES", "TIE_VALUES", "flip_pairwise"]

QUESTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,39}$")
OPTION_CHARS = 64  # labels.value holds an option as given
MAX_QUESTIONS = 8
MAX_OPTIONS = 12
MAX_CHECKLIST = 12  # entries of one item's checklist (the page shows each with its own YES/NO)
CHECKLIST_ENTRY_CHARS = 300

PairwiseValue = Literal["A", "B", "tie", "bothbad"]


class _Asks(BaseModel):
    """What a task asks besides the value: a rationale, and a confidence on a declared scale.

    ``confidence_scale`` is ``[low, high]`` (default ``[1, 5]``, the page's five buttons). A stored
    confidence is a number on that scale; analysis reads it as ``(c - low) / (high - low)``, so a 1 on
    1-5 is the least sure, never a probability of 1. Probability-style confidences declare ``[0, 1]``.
    """

    ask_rationale: bool = False
    ask_confidence: bool = False
    confidence_scale: tuple[float, float] = (1.0, 5.0)

    @model_validator(mode="after")
    def _scale_ordered(self) -> _Asks:
        low, high = self.confidence_scale
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            raise ValueError(f"confidence_scale must be [low, high] with low < high, got {list(self.confidence_scale)}")
        return self

    @property
    def confidence_choices(self) -> list[str]:
        """The confidences a person can click: the whole numbers of the scale (none for [0, 1])."""
        low, high = self.confidence_scale
        if low.is_integer() and high.is_integer() and high - low <= 10:
            return [str(v) for v in range(int(low), int(high) + 1)]
        return []

    def check_confidence(self, confidence: float) -> None:
        low, high = self.confidence_scale
        if not math.isfinite(confidence) or not low <= confidence <= high:
            raise LabelError(
                f"confidence {confidence!r} is outside this task's confidence scale [{low:g}, {high:g}]",
                fix=f"give a confidence from {low:g} to {high:g} (the task's label schema declares the scale)",
            )


class _Question(BaseModel):
    """What every question has: a name (the label's ``question``), the words asked, and whether the
    page requires an answer before Submit."""

    model_config = ConfigDict(extra="forbid")

    name: str = DEFAULT_QUESTION
    text: str = ""
    required: bool = True

    @model_validator(mode="after")
    def _named(self) -> _Question:
        if not QUESTION_NAME.match(self.name):
            raise ValueError(
                f"question name {self.name!r}: use 1 to 40 letters, digits, '_' or '-', starting with a letter"
            )
        if len(self.text) > 500:
            raise ValueError(f"question {self.name!r}: the text has {len(self.text)} characters, over 500")
        return self

    def canonical(self, value: str) -> str:
        """The stored form of a value (a choice given in another case is its option as declared)."""
        return value

    def button(self, point: str) -> str:
        return point


def _all_pairwise() -> list[PairwiseValue]:
    return [cast(PairwiseValue, v) for v in PAIRWISE_VALUES]


class PairwiseSchema(_Question):
    kind: Literal["pairwise"] = "pairwise"
    choices: list[PairwiseValue] = Field(default_factory=_all_pairwise)

    @model_validator(mode="after")
    def _needs_a_and_b(self) -> PairwiseSchema:
        if "A" not in self.choices or "B" not in self.choices:
            raise ValueError(f"a pairwise schema needs both 'A' and 'B' among its choices, got {self.choices}")
        return self

    @property
    def level(self) -> str:
        return "pairwise"

    def to_number(self, value: str) -> float:
        if value not in self.choices:
            raise LabelError(
                f"value {value!r} is not in this task's pairwise label set",
                fix=f"use one of {self.choices} (in the item's A/B frame)",
            )
        return PAIRWISE_NUMBERS[value]


class ChoiceSchema(_Question):
    """One of named options: a category (``ordered: false``) or ordered categories."""

    kind: Literal["choice"] = "choice"
    options: list[str]
    ordered: bool = False

    @model_validator(mode="after")
    def _options(self) -> ChoiceSchema:
        if not 2 <= len(self.options) <= MAX_OPTIONS:
            raise ValueError(f"question {self.name!r}: give 2 to {MAX_OPTIONS} options, got {len(self.options)}")
        seen: set[str] = set()
        for option in self.options:
            if option != option.strip() or not option or len(option) > OPTION_CHARS:
                raise ValueError(
                    f"question {self.name!r}: option {option!r} must have 1 to {OPTION_CHARS} characters "
                    "and no leading or trailing space"
                )
            if option.casefold() in seen:
                raise ValueError(f"question {self.name!r}: option {option!r} is given twice (case is ignored)")
            seen.add(option.casefold())
        return self

    @property
    def level(self) -> str:
        return "ordinal" if self.ordered else "nominal"

    @property
    def choices(self) -> list[str]:
        return list(self.options)

    def canonical(self, value: str) -> str:
        if value in self.options:
            return value
        folded = [o for o in self.options if o.casefold() == value.strip().casefold()]
        return folded[0] if folded else value

    def to_number(self, value: str) -> float:
        if value not in self.options:
            raise LabelError(
                f"value {value!r} is not an option of question {self.name!r}",
                fix=f"use one of {self.options}",
            )
        return float(self.options.index(value))


ANCHOR_CHARS = 80


class ScaleSchema(_Question):
    """An ordinal scale of integers, e.g. Likert 1-5 or 1-10."""

    kind: Literal["scale"] = "scale"
    min: int = 1
    max: int = 5
    # what a point means, shown next to it on the page (e.g. {1: "unusable", 5: "excellent"})
    anchors: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> ScaleSchema:
        if self.max <= self.min:
            raise ValueError(f"scale max ({self.max}) must be greater than min ({self.min})")
        for point, text in self.anchors.items():
            if not self.min <= point <= self.max:
                raise ValueError(f"anchor {point} is not a point of the scale {self.min}-{self.max}")
            if not text.strip() or len(text) > ANCHOR_CHARS:
                raise ValueError(f"anchor {point}: give a label of 1 to {ANCHOR_CHARS} characters")
        return self

    @property
    def level(self) -> str:
        return "ordinal"

    def button(self, point: str) -> str:
        """A point's button text: the number, and its anchor when the schema names one."""
        anchor = self.anchors.get(int(point))
        return f"{point} · {anchor}" if anchor else point

    @property
    def choices(self) -> list[str]:
        return [str(v) for v in range(self.min, self.max + 1)]

    def to_number(self, value: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or number != int(number) or not self.min <= number <= self.max:
            raise LabelError(
                f"value {value!r} is not on this task's scale",
                fix=f"use a whole number from {self.min} to {self.max}",
            )
        return number


class NumericSchema(_Question):
    """A continuous score in [min, max]."""

    kind: Literal["numeric"] = "numeric"
    min: float = 0.0
    max: float = 1.0

    @property
    def level(self) -> str:
        return "interval"

    @property
    def choices(self) -> list[str]:
        return []

    def to_number(self, value: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if number != number or not self.min <= number <= self.max:
            raise LabelError(
                f"value {value!r} is not a number in this task's range",
                fix=f"use a number from {self.min} to {self.max}",
            )
        return number


class ChecklistSchema(_Question):
    """YES/NO for each entry of the item's checklist (TICK, Cook et al. 2024). The entries come from
    the item (its ``checklist`` field at import) or are generated by a judge
    (``judgelab checklist``); each entry's answer is its own label, question ``NAME.K``."""

    kind: Literal["checklist"] = "checklist"
    source: Literal["item", "generated"] = "item"

    @property
    def level(self) -> str:
        return "nominal"

    @property
    def choices(self) -> list[str]:
        return list(CHECKLIST_OPTIONS)

    def canonical(self, value: str) -> str:
        folded = value.strip().casefold()
        return folded if folded in CHECKLIST_OPTIONS else value

    def to_number(self, value: str) -> float:
        if value not in CHECKLIST_OPTIONS:
            raise LabelError(
                f"value {value!r} is not a checklist answer of question {self.name!r}",
                fix=f"use one of {list(CHECKLIST_OPTIONS)}",
            )
        return 1.0 if value == CHECKLIST_OPTIONS[0] else 0.0


def entry_key(name: str, k: int) -> str:
    """The label question of entry ``k`` (from 1) of checklist question ``name``: ``tick.3``."""
    return f"{name}.{k}"


def split_key(key: str) -> tuple[str, str | None]:
    """A label's question key -> (question name, the entry's text after the dot, or None).

    >>> split_key("tick.3"), split_key("verdict")
    (('tick', '3'), ('verdict', None))
    """
    if "." not in key:
        return key, None
    name, _, entry = key.rpartition(".")
    return name, entry


def checklist_entries(checklist: dict[str, Any] | None) -> list[str]:
    """An item's checklist entries (``items.checklist``); none while it has no checklist."""
    entries = checklist.get("entries") if isinstance(checklist, dict) else None
    return [str(e) for e in entries] if isinstance(entries, list) else []


Question = PairwiseSchema | ChoiceSchema | ScaleSchema | NumericSchema | ChecklistSchema


class TaskSchema(_Asks):
    """The questions of a task, in the order they are asked, and what it asks besides the values."""

    model_config = ConfigDict(extra="forbid")

    questions: list[Annotated[Question, Field(discriminator="kind")]]

    @model_validator(mode="after")
    def _questions(self) -> TaskSchema:
        if not 1 <= len(self.questions) <= MAX_QUESTIONS:
            raise ValueError(f"give 1 to {MAX_QUESTIONS} questions, got {len(self.questions)}")
        names = [q.name for q in self.questions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"question names must differ; {twice} given twice")
        return self

    @property
    def names(self) -> list[str]:
        return [q.name for q in self.questions]

    @property
    def first(self) -> Question:
        return self.questions[0]

    @property
    def single_question(self) -> bool:
        return len(self.questions) == 1

    def first_of(self, kind: str) -> Question | None:
        return next((q for q in self.questions if q.kind == kind), None)

    def question(self, name: str | None) -> Question:
        """The question named ``name``; ``None`` is the task's only question."""
        if name is None or name == "":
            if self.single_question:
                return self.first
            raise LabelError(
                "this task asks several questions; a label must name its question",
                fix=f"give a 'question' field, one of {self.names}",
            )
        for q in self.questions:
            if q.name == name:
                return q
        raise LabelError(f"question {name!r} is not asked by this task", fix=f"use one of {self.names}")

    def resolve(self, key: str | None, *, whole_item: bool = False) -> tuple[Question, int | None]:
        """A label's question key -> (question, checklist entry or None): ``tick.3`` is entry 3.
        ``whole_item``: a label about the whole item (a skip) may name a checklist without an entry."""
        name, entry = split_key(key) if key else (key, None)
        if entry is not None:
            question = self.question(name)
            if question.kind != "checklist" or not entry.isdigit() or int(entry) < 1:
                raise LabelError(
                    f"question {key!r} is not asked by this task",
                    fix=f"use one of {self.names} (a checklist entry is NAME.K, K from 1)",
                )
            return question, int(entry)
        question = self.question(key)
        if question.kind == "checklist" and not whole_item:
            raise LabelError(
                f"question {question.name!r} is a checklist: each entry is answered on its own",
                fix=f"name the entry, e.g. '{question.name}.1'",
            )
        return question, None


def parse_schema(data: dict[str, Any]) -> TaskSchema:
    """Read a stored or user-given schema dict; errors name the key and the fix. A dict without
    ``questions`` is the one-question form (``{"kind": "scale", "min": 1, "max": 5}``)."""
    try:
        if isinstance(data, dict) and "questions" not in data:
            asks = {k: data[k] for k in _Asks.model_fields if k in data}
            question = {k: v for k, v in data.items() if k not in _Asks.model_fields}
            question.setdefault("kind", "pairwise")
            return TaskSchema.model_validate({**asks, "questions": [question]})
        return TaskSchema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"] if not isinstance(p, str) or p not in QUESTION_KINDS) or "kind"
        raise LabelError(
            f"invalid label schema at key '{key}': {first['msg']}",
            value=data,
            fix="use {'questions': [{'name': 'verdict', 'kind': 'pairwise'}, {'name': 'harmful', 'kind': 'choice', "
            "'options': ['yes', 'no']}, {'name': 'helpfulness', 'kind': 'scale', 'min': 1, 'max': 5}]} "
            "(kinds: pairwise, choice, scale, numeric, checklist)",
        ) from exc


def check_for_protocol(schema: TaskSchema, protocol: str) -> None:
    """A single-answer task has no second response: no pairwise question; a checklist asks about one
    response: not on a pairwise task."""
    for q in schema.questions:
        if protocol == "single" and q.kind == "pairwise":
            raise LabelError(
                f"question {q.name!r} is pairwise, but the task is single-answer (one response per item)",
                fix="use kind choice, scale or numeric, or import with --protocol pairwise",
            )
        if protocol == "pairwise" and q.kind == "checklist":
            raise LabelError(
                f"question {q.name!r} is a checklist, which asks about one response; the task is pairwise",
                fix="put checklists on a single-answer task (--protocol single)",
            )


def default_schema(protocol: str) -> dict[str, Any]:
    """The one-question schema of a protocol, in the stored form."""
    question = PairwiseSchema() if protocol == "pairwise" else ScaleSchema()
    return TaskSchema(questions=[question]).model_dump()


def load_schema_file(path: Path, **asks: Any) -> dict[str, Any]:
    """A label schema from a YAML (or JSON) file: ``questions: [...]`` and the task's asks; errors
    name the file and the key."""
    from annotation.files import read_yaml

    data = read_yaml(path, "schema file", LabelError)
    if not isinstance(data, dict) or "questions" not in data:
        raise LabelError(
            f"{path}: a schema file is a mapping with a 'questions' list",
            fix="write e.g. questions: [{name: verdict, kind: pairwise}]",
        )
    try:
        return parse_schema({**data, **asks}).model_dump(mode="json")
    except LabelError as exc:
        raise LabelError(f"{path}: {exc.what}", fix=exc.fix) from None
