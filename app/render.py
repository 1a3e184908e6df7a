"""Item content as safe HTML: raw HTML in prompts and responses is shown as text, never run."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import newline
from markdown_it.rules_inline.state_inline import StateInline


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    """CommonMark with raw HTML off (every tag in the data is text), images off (a remote image would
    tell a third party who views which item, and when), links only to http(s) and mail."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.disable(["image"])
    md.validateLink = _web_link  # type: ignore[method-assign]
    md.inline.ruler.at("newline", _newline_keeping_indent)
    return md


INDENT_SPACE = "\u00a0"  # a no-break space: HTML keeps it where it collapses a run of spaces


def _newline_keeping_indent(state: StateInline, silent: bool) -> bool:
    """CommonMark's line break, except that the next line keeps its leading spaces (as no-break
    spaces; a tab as four): unfenced code and indented text inside a paragraph keep their structure.
    Block structure is untouched: an indented code block, a nested list or a quote parse as before."""
    start = state.pos
    if not newline(state, silent):
        return False
    skipped = state.src[start + 1 : state.pos]
    if skipped and not silent:
        state.pending += skipped.replace("\t", "    ").replace(" ", INDENT_SPACE)
    return True


def _web_link(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "mailto:"))


def safe_markdown(text: str | None) -> str:
    """Item content as HTML in which nothing from the data is markup: the text is parsed as Markdown
    with raw HTML disabled (escape first: a ``<form>`` stays the text "<form>", whatever fences or
    backslashes surround it), images disabled, only http(s)/mailto links. The page's Markdown
    component shows this HTML as it is (its own sanitizer is a second wall, not the first). Line
    breaks are kept, and so are the leading spaces of every line of a paragraph (unfenced code keeps
    its indentation):

    >>> print(safe_markdown("def f(x):\\n    return x").replace(INDENT_SPACE, "~"))
    <p>def f(x):<br />
    ~~~~return x</p>
    <BLANKLINE>
    """
    if not text:
        return "<p><em>(empty)</em></p>"
    return _renderer().render(text)


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
