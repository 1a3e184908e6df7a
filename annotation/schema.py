"""Label schemas: what values a task accepts, and the number each value stands for.

Pairwise values are always in the item's own A/B frame (A = response_a as stored):
``A`` (A better), ``B`` (B better), ``tie``, ``bothbad`` (a tie where both are bad).
Their number is the share of the preference that goes to A: 1, 0, 0.5, 0.5.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from annotation.errors import LabelError

PairwiseValue = Literal["A", "B", "tie", "bothbad"]
PAIRWISE_VALUES: tuple[PairwiseValue, ...] = ("A", "B", "tie", "bothbad")
PAIRWISE_NUMBERS: dict[str, float] = {"A": 1.0, "B": 0.0, "tie": 0.5, "bothbad": 0.5}
TIE_VALUES = frozenset({"tie", "bothbad"})


def _all_pairwise() -> list[PairwiseValue]:
    return list(PAIRWISE_VALUES)


class PairwiseSchema(BaseModel):
    kind: Literal["pairwise"] = "pairwise"
    choices: list[PairwiseValue] = Field(default_factory=_all_pairwise)
    ask_rationale: bool = False
    ask_confidence: bool = False

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


class ScaleSchema(BaseModel):
    """An ordinal scale of integers, e.g. Likert 1-5 or 1-10."""

    kind: Literal["scale"] = "scale"
    min: int = 1
    max: int = 5
    ask_rationale: bool = False
    ask_confidence: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> ScaleSchema:
        if self.max <= self.min:
            raise ValueError(f"scale max ({self.max}) must be greater than min ({self.min})")
        return self

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


class NumericSchema(BaseModel):
    """A continuous score in [min, max]."""

    kind: Literal["numeric"] = "numeric"
    min: float = 0.0
    max: float = 1.0
    ask_rationale: bool = False
    ask_confidence: bool = False

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


def flip_pairwise(value: str) -> str:
    """The same verdict seen from the other order (A <-> B; ties unchanged)."""
    return {"A": "B", "B": "A"}.get(value, value)
