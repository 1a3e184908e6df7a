"""Item content as safe Markdown: raw HTML in prompts and responses is shown as text, never run."""

from __future__ import annotations

import html
import re
from typing import Any

_FENCE = re.compile(r"(```.*?```)", re.DOTALL)


def safe_markdown(text: str | None) -> str:
    """Escape HTML outside fenced code blocks (inside them Markdown already shows it as text)."""
    if not text:
        return "*(empty)*"
    parts = _FENCE.split(text)
    return "".join(p if p.startswith("```") and p.endswith("```") else html.escape(p, quote=False) for p in parts)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown_text(text: str) -> str:
    """Plain text inside Markdown: HTML escaped and every Markdown character backslash-escaped, so a
    rater or task name never becomes a link, an image or emphasis.

    >>> print(markdown_text("[x](http://e) <b>"))
    \\[x\\]\\(http://e\\) &lt;b&gt;
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def conversation_markdown(messages: list[dict[str, Any]], judged_turn: int | None = None) -> str:
    """A conversation, turn by turn; the judged assistant turn (1-based) is marked."""
    out, turn = [], 0
    for msg in messages:
        role = str(msg.get("role", ""))
        if role == "assistant":
            turn += 1
        marker = " **(judged turn)**" if role == "assistant" and judged_turn == turn else ""
        out.append(f"**{html.escape(role.capitalize())}**{marker}\n\n{safe_markdown(str(msg.get('content', '')))}")
    return "\n\n---\n\n".join(out)
