"""One error family for judgelab. Every message says what went wrong, which value, and how to fix it."""

from __future__ import annotations


class JudgelabError(Exception):
    """Base error: ``what`` happened, with ``value``, and ``fix`` says how to repair it."""

    def __init__(self, what: str, *, value: object = None, fix: str | None = None) -> None:
        self.what = what
        self.value = value
        self.fix = fix
        parts = [what]
        if value is not None:
            parts.append(f"(got {_short(value)})")
        message = " ".join(parts)
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class ConfigError(JudgelabError):
    """A setting or config file key is missing or invalid."""


class NotFoundError(JudgelabError):
    """A named task, item or annotator does not exist."""


class LabelError(JudgelabError):
    """A label does not fit its task's label schema or the unique key."""

    def __init__(self, what: str, *, value: object = None, fix: str | None = None) -> None:
        super().__init__(
            what, value=value, fix=fix or "correct that label and write the batch again (nothing of it was written)"
        )


class AccessError(JudgelabError):
    """The caller's role does not allow this action."""


class InputError(JudgelabError):
    """Bad input in an imported file: names the file, the line (or row) and the field."""

    def __init__(
        self,
        where: str,
        what: str,
        *,
        field: str | None = None,
        value: object = None,
        fix: str | None = None,
    ) -> None:
        self.where = where
        self.field = field
        prefix = f"{where}: " + (f"field '{field}': " if field else "")
        if fix is None:
            place = f"field '{field}' at {where}" if field else where
            fix = f"correct {place} and import the file again (nothing was imported)"
        super().__init__(prefix + what, value=value, fix=fix)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
