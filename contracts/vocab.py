"""Closed vocabularies and the rules over them, each defined once.

The ORM's CHECK constraints (:func:`sql_in`), the CLI's choices, the write path's validation and the
analysis all read these tuples; a new value is added here and nowhere else (plus a migration for the
CHECK constraint).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Literal

ANNOTATOR_KINDS = ("human", "llm_judge")
ROLES = ("annotator", "researcher", "admin")
ANNOTATE_ROLES = frozenset(ROLES)  # who may open the Annotate tab
RESEARCH_ROLES = frozenset({"researcher", "admin"})
ADMIN_ROLES = frozenset({"admin"})
PROTOCOLS = ("pairwise", "single")
LABEL_STATUSES = ("submitted", "skipped", "failed")
PRESENTED_ORDERS = ("ab", "ba")
# 'cancelling' is asked for by an admin (or the demo) and seen by the runner between batches
RUN_STATUSES = ("running", "cancelling", "finished", "failed", "cancelled")
# how a rater labeled in both presented orders counts: one vote per item (MT-Bench), each order its own
# comparison (LLMBar's averaged accuracy), or the first order only
ORDER_RULES = ("combined", "each", "first")
IMPORT_FORMATS = ("auto", "jsonl", "json", "csv", "parquet", "labels", "mtbench", "pandalm")
EXPORT_FORMATS = ("long", "wide", "dpo", "hf")

# Pairwise values are in the item's own A/B frame: A better, B better, tie, both bad (a tie).
PAIRWISE_VALUES = ("A", "B", "tie", "bothbad")
TIE_VALUES = frozenset({"tie", "bothbad"})
# the share of the preference that goes to A
PAIRWISE_NUMBERS: dict[str, float] = {"A": 1.0, "B": 0.0, "tie": 0.5, "bothbad": 0.5}


def sql_in(column: str, values: Iterable[str]) -> str:
    """The SQL of a CHECK constraint that keeps ``column`` inside a vocabulary.

    >>> sql_in("role", ROLES)
    "role IN ('annotator', 'researcher', 'admin')"
    """
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def flip_pairwise(value: str) -> str:
    """The same verdict seen from the other order (A <-> B; ties unchanged).

    >>> flip_pairwise("A"), flip_pairwise("tie")
    ('B', 'tie')
    """
    return {"A": "B", "B": "A"}.get(value, value)


OnShared = Literal["none", "tie", "median"]


def plurality(values: Iterable[str | None], *, on_shared: OnShared = "none") -> str | None:
    """The majority vote of judgelab: the strict plurality of ``values`` (``None`` dropped; ``bothbad``
    counts as ``tie``). When the top count is shared, ``on_shared`` decides: ``"none"`` (no majority,
    the analysis and the DPO export), ``"tie"`` (a pairwise tie: a judge's samples) or ``"median"``
    (the rounded median: a judge's samples on a scale).

    >>> plurality(["A", "A", "B"])
    'A'
    >>> plurality(["A", "B"]) is None, plurality(["A", "B"], on_shared="tie")
    (True, 'tie')
    >>> plurality(["2", "4", "4", "2"], on_shared="median")
    '3'
    >>> plurality(["6", "7"], on_shared="median")  # a median between two scale points: halves up
    '7'
    """
    votes = ["tie" if v == "bothbad" else v for v in values if v is not None]
    if not votes:
        return None
    counts = Counter(votes).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        return counts[0][0]
    if on_shared == "tie":
        return "tie"
    if on_shared == "median":
        ordered = sorted(float(v) for v in votes)
        half = len(ordered) // 2
        mid = ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
        return str(round_half_up(mid))
    return None


def round_half_up(x: float) -> int:
    """The nearest whole number, halves upward: the scale point a median between two points stands
    for (Python's ``round`` sends halves to the even neighbour: 6.5 -> 6 but 7.5 -> 8).

    >>> round_half_up(6.5), round_half_up(7.5), round_half_up(2.4)
    (7, 8, 2)
    """
    return math.floor(x + 0.5)
