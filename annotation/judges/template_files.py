"""The prompt template a judge config names: ``builtin`` (``templates/``), a ``.j2`` file, or inline
Jinja text. Its text is part of the judge's identity."""

from __future__ import annotations

from pathlib import Path

from annotation.errors import ConfigError

TEMPLATES = Path(__file__).parent / "templates"


def template_source(template: str, protocol: str, *, questions: bool = False) -> str:
    """The template's text. ``questions``: the task asks several questions (or a category, or a
    checklist), which the built-in templates ask with ``questions.j2``."""
    if template == "builtin":
        name = "questions.j2" if questions else "pairwise.j2" if protocol.startswith("pairwise") else "single.j2"
        return (TEMPLATES / name).read_text(encoding="utf-8")
    path = Path(template)
    if path.suffix == ".j2" or path.exists():
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"template file {template!r} cannot be read ({exc})",
                fix="give a readable .j2 path, or 'builtin'",
            ) from None
    if "{{" in template:
        return template
    raise ConfigError(
        "key 'template' is neither 'builtin', a .j2 file, nor Jinja text",
        value=template,
        fix="use template: builtin",
    )
