"""Analysis commands (agreement, report): registered on the main parser."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the analysis subcommands to ``sub`` (filled in by the analysis issue)."""
    del sub
