"""The records every import format produces, and the field checks they share."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from annotation.errors import InputError
from annotation.store import LabelIn

MAX_ID_CHARS = 200


@dataclass
class ItemRecord:
    where: str
    external_id: str
    prompt: str
    response_a: str
    response_b: str | None = None
    model_a: str | None = None
    model_b: str | None = None
    reference: str | None = None
    category: str | None = None
    conversation: dict[str, Any] | None = None
    gold: str | dict[str, str] | None = None  # a value (the first question's) or {question: value}
    checklist: list[str] | None = None
    meta: dict[str, Any] | None = None


UNRESOLVED = 0  # the database id a label read from a file has until ingest resolves it (no row has id 0)


@dataclass
class LabelRecord:
    """A label read from a file: where it was, which item (external id) and which annotator (name,
    kind, config), and the label itself as the write path's :class:`LabelIn`, whose ``item_id`` and
    ``annotator_id`` are :data:`UNRESOLVED` until ingest looks them up."""

    where: str
    external_id: str
    annotator: str
    kind: str
    label: LabelIn
    annotator_config: dict[str, Any] | None = None


def unresolved_label(value: str | None, **fields: Any) -> LabelIn:
    """A label's own fields (``value``, ``status``, ``rationale``, ...) before its ids are known."""
    return LabelIn(item_id=UNRESOLVED, annotator_id=UNRESOLVED, value=value, **fields)


@dataclass
class Parsed:
    protocol: str
    items: list[ItemRecord] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)


class Fields:
    """Field readers for one row: each error names the row's place, the field and the fix."""

    def __init__(self, where: str, data: dict[str, Any], max_chars: int) -> None:
        self.where = where
        self.data = data
        self.max_chars = max_chars

    def fail(self, name: str, what: str, value: object = None, fix: str | None = None) -> InputError:
        return InputError(self.where, what, field=name, value=value, fix=fix)

    def present(self, name: str) -> bool:
        value = self.data.get(name)
        return not _blank(value)

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        allow_number: bool | Literal["any"] = False,
        allow_empty: bool = False,
    ) -> str | None:
        """A text field. ``allow_empty``: an empty string is a real value (a model that said nothing)
        as long as the field itself is present. ``allow_number``: a number is read as its text;
        ``"any"``: booleans too (data sets whose JSON turned a model's 'True' into true)."""
        value = self.data.get(name)
        if allow_empty and isinstance(value, str) and value.strip() == "":
            return value
        if _blank(value):
            if required:
                raise self.fail(name, "is missing or empty", fix=f"give every row a non-empty '{name}'")
            return None
        if allow_number == "any" and isinstance(value, (int, float, bool)):
            value = str(value)
        elif allow_number and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            raise self.fail(name, f"must be text, not {type(value).__name__}", value=value)
        self._check_size(name, value)
        return value

    def ident(self, name: str) -> str:
        plain = self.data.get(name)
        if type(plain) is str and len(plain) <= min(MAX_ID_CHARS, self.max_chars):  # the common case, quickly
            stripped = plain.strip()
            if stripped:
                return stripped
        value = self.text(name, allow_number=True)
        assert value is not None
        value = value.strip()
        if not value:
            raise self.fail(name, "is empty", fix="give every row a non-empty id")
        if len(value) > MAX_ID_CHARS:
            raise self.fail(name, f"is longer than {MAX_ID_CHARS} characters", value=value)
        return value

    def integer(self, name: str, *, required: bool = True, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if _blank(value):
            if required:
                raise self.fail(name, "is missing or empty", fix=f"give every row a whole number '{name}'")
            return default
        if isinstance(value, bool):
            raise self.fail(name, "must be a whole number, not a boolean", value=value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                try:
                    number = float(value.strip())  # "1200.0": a CSV writer's spelling of an integer
                except ValueError:
                    number = float("nan")
                if number == number and number.is_integer():
                    return int(number)
        raise self.fail(name, "must be a whole number", value=value)

    def number(self, name: str) -> float | None:
        value = self.data.get(name)
        if _blank(value):
            return None
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise self.fail(name, "must be a number", value=value) from None
        if not math.isfinite(number) or isinstance(value, bool):
            raise self.fail(name, "must be a finite number", value=value)
        return number

    def json_value(self, name: str) -> Any:
        """A structured field: taken as is from JSON/Parquet, parsed from JSON text in CSV."""
        value = self.data.get(name)
        if _blank(value):
            return None
        if isinstance(value, str):
            stripped = value.strip()
            if stripped[:1] in ("[", "{"):
                try:
                    return json.loads(stripped)
                except json.JSONDecodeError as exc:
                    raise self.fail(name, f"holds invalid JSON text ({exc.msg})", value=value) from None
        return value

    def gold(self) -> str | dict[str, str] | None:
        """A gold item's answer: one value, or ``{question: value}`` (checked against the task's
        schema when the item is written)."""
        value = self.json_value("gold")
        if value is None:
            return None
        if isinstance(value, dict):
            out: dict[str, str] = {}
            for name, answer in value.items():
                if _blank(answer) or isinstance(answer, (dict, list)):
                    raise self.fail("gold", f"question {name!r} has no answer", value=value)
                out[str(name)] = _as_text(answer)
            return out or None
        if isinstance(value, list):
            raise self.fail("gold", "must be a value or an object {question: value}", value=value)
        return _as_text(value)

    def checklist(self) -> list[str] | None:
        """A checklist: a list of 1 to MAX_CHECKLIST YES/NO questions, each text."""
        from annotation.schema import CHECKLIST_ENTRY_CHARS, MAX_CHECKLIST

        value = self.json_value("checklist")
        if value is None:
            return None
        if not isinstance(value, list) or not value or len(value) > MAX_CHECKLIST:
            raise self.fail(
                "checklist",
                f"must be a list of 1 to {MAX_CHECKLIST} questions",
                value=value,
                fix='write e.g. "checklist": ["Is the answer in French?", "Does it cite a source?"]',
            )
        for i, entry in enumerate(value):
            if not isinstance(entry, str) or not entry.strip() or len(entry) > CHECKLIST_ENTRY_CHARS:
                raise self.fail(
                    "checklist", f"entry {i + 1} must be text of 1 to {CHECKLIST_ENTRY_CHARS} characters", value=entry
                )
        return [e.strip() for e in value]

    def conversation_or_text(
        self, name: str, *, role: str, required: bool = True, allow_empty: bool = False
    ) -> tuple[str | None, list[dict[str, str]] | None]:
        """Text, or a conversation (list of {role, content}); returns (text of the last ``role`` turn,
        messages). Text that reads as a JSON list of objects is a conversation (CSV writes one so);
        other text is text, whatever it starts with ("[INST] ...", "{name} ...")."""
        value = self.data.get(name)
        if isinstance(value, str) and value.lstrip()[:1] == "[":
            try:
                parsed = json.loads(value)
            except (json.JSONDecodeError, RecursionError):
                parsed = None
            if isinstance(parsed, list) and parsed and all(isinstance(m, dict) for m in parsed):
                value = parsed
        if isinstance(value, list):
            messages = self.messages(name, value)
            turns = [m["content"] for m in messages if m["role"] == role]
            if not turns:
                raise self.fail(
                    name, f"is a conversation with no '{role}' message", fix=f"add a message with role '{role}'"
                )
            return turns[-1], messages
        if _blank(value) and not required:
            return None, None
        return self.text(name, required=required, allow_empty=allow_empty), None

    def messages(self, name: str, value: list[Any]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for i, msg in enumerate(value):
            if not isinstance(msg, dict) or "content" not in msg:
                raise self.fail(name, f"message {i + 1} is not a {{role, content}} object", value=msg)
            role = msg.get("role")
            if role not in ("system", "user", "assistant"):
                raise self.fail(name, f"message {i + 1} has role {role!r}", fix="use 'system', 'user' or 'assistant'")
            content = msg["content"]
            if not isinstance(content, str):
                raise self.fail(name, f"message {i + 1} content must be text", value=content)
            self._check_size(name, content)
            out.append({"role": role, "content": content})
        if not out:
            raise self.fail(name, "is an empty conversation")
        return out

    def _check_size(self, name: str, value: str) -> None:
        if len(value) > self.max_chars:
            raise self.fail(
                name,
                f"has {len(value):,} characters, over the limit of {self.max_chars:,}",
                fix="shorten it, or raise JUDGELAB_MAX_FIELD_CHARS",
            )


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""
