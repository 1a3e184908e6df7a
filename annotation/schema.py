"""Label schemas: what values a task accepts, and the number each value stands for.

Pairwise values are always in the item's own A/B frame (A = response_a as stored):
``A`` (A better), ``B`` (B better), ``tie``, ``bothbad`` (a tie where both are bad).
Their number is the share of the preference that goes to A: 1, 0, 0.5, 0.5.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from annotation.errors import LabelError
from contracts.vocab import PAIRWISE_NUMBERS, PAIRWISE_VALUES, TIE_VALUES, flip_pairwise

__all__ = ["PAIRWISE_NUMBERS", "PAIRWISE_VALUES", "TIE_VALUES", "flip_pairwise"]

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


def _all_pairwise() -> list[PairwiseValue]:
    return [cast(PairwiseValue, v) for v in PAIRWISE_VALUES]


class PairwiseSchema(_Asks):
    kind: Literal["pairwise"] = "pairwise"
    choices: list[PairwiseValue] = Field(default_factory=_all_pairwise)

    @model_validator(mode="after")
    def _needs_a_and_b(self) -> PairwiseSchema:
        if "A" not in self.choices or "B" not in self.choices:
            raise ValueError(f"a pairwise schema needs both 'A' and 'B' among its choices, got {self.choices}")
        return self

    def to_number(self, value: str) -> float:
        if value not in self.choices:
            raise LabelError(
                f"value {value!r} is not in this task's pairwise label set",
                fix=f"use one of {self.choices} (in the item's A/B frame)",
            )
        return PAIRWISE_NUMBERS[value]


ANCHOR_CHARS = 80


class ScaleSchema(_Asks):
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


class NumericSchema(_Asks):
    """A continuous score in [min, max]."""

    kind: Literal["numeric"] = "numeric"
    min: float = 0.0
    max: float = 1.0

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


LabelSchema = Annotated[PairwiseSchema | ScaleSchema | NumericSchema, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[PairwiseSchema | ScaleSchema | NumericSchema] = TypeAdapter(LabelSchema)


def parse_schema(data: dict[str, Any]) -> PairwiseSchema | ScaleSchema | NumericSchema:
    """Read a stored or user-given schema dict; errors name the key and the fix."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "kind"
        raise LabelError(
            f"invalid label schema at key '{key}': {first['msg']}",
            value=data,
            fix="use {'kind': 'pairwise'}, {'kind': 'scale', 'min': 1, 'max': 5} "
            "or {'kind': 'numeric', 'min': 0, 'max': 1}",
        ) from exc


def default_schema(protocol: str) -> dict[str, Any]:
    if protocol == "pairwise":
        return PairwiseSchema().model_dump()
    return ScaleSchema().model_dump()
