"""Closed vocabularies and the rules over them, each defined once.

The ORM's CHECK constraints (:func:`sql_in`), the CLI's choices, the write path's validation and the
analysis all read these tuples; a new value is added here and nowhere else (plus a migration for the
CHECK constraint).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
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

# the questions of a label schema (annotation/schema.py): a task asks one or more; labels name theirs
QUESTION_KINDS = ("pairwise", "choice", "scale", "numeric", "checklist")
DEFAULT_QUESTION = "verdict"  # the name of a task's question when none is declared (every older task)
CHECKLIST_OPTIONS = ("yes", "no")  # a checklist entry's answer (TICK's YES/NO), numbers 1 and 0
# the level of measurement of a question, which decides the statistics analysis computes on it
LEVELS = ("pairwise", "nominal", "ordinal", "interval")

# Pairwise values are in the item's own A/B frame: A better, B better, tie, both bad (a tie).
PAIRWISE_VALUES = ("A", "B", "tie", "bothbad")
TIE_VALUES = frozenset({"tie", "bothbad"})
# the share of the preference that goes to A
PAIRWISE_NUMBERS: dict[str, float] = {"A": 1.0, "B": 0.0, "tie": 0.5, "bothbad": 0.5}


# how a human label's item was chosen (``labels.metadata.selection``; judge-assisted estimates need a
# random sample): the annotator page's queue serves each annotator a random order of the items;
# an import may declare its items a random sample; anything else is not known to be random
SELECTION_QUEUE = "queue"
RANDOM_SELECTIONS = (SELECTION_QUEUE, "random")


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


# the per-item verdict of one rater, and the majority over raters: every output that shows a verdict per
# item (the report, the dashboard, the wide and DPO exports) applies these two rules and names them
VERDICT_RULE = (
    "a rater's verdict on an item: the common value of its labels (both orders, replicates); pairwise labels "
    "that disagree give the most likely option of their mean probabilities when every label has them, else tie; "
    "scores give their median rounded half up; bothbad counts as tie"
)
MAJORITY_RULE = "the majority: the strict plurality of the raters' verdicts, with at least {min_votes} votes"
DEFAULT_MIN_VOTES = 2
# how a both-bad verdict counts in agreement: as a tie (one class, MT-Bench) or as its own category
BOTHBAD_RULES = ("tie", "distinct")


def rater_verdict(values: Sequence[str], probabilities: Sequence[object] | None = None) -> str | None:
    """One rater's verdict on one item from its labels (both presented orders, replicates), by
    :data:`VERDICT_RULE`; ``probabilities`` (aligned with ``values``) are the labels' pairwise
    probability dicts where they have them. ``analysis.frames.votes`` is the vectorized form (tested
    equal).

    >>> rater_verdict(["A", "A"]), rater_verdict(["A", "B"]), rater_verdict(["bothbad"])
    ('A', 'tie', 'tie')
    >>> rater_verdict(["A", "B"], [{"A": 0.9, "B": 0.1}, {"A": 0.4, "B": 0.6}])
    'A'
    >>> rater_verdict(["6", "7"]), rater_verdict(["4", "4", "5"])
    ('7', '4')
    """
    votes = [v for v in values if v is not None]
    if not votes:
        return None
    pairwise = all(v in PAIRWISE_VALUES for v in votes)
    if pairwise:
        votes = ["tie" if v == "bothbad" else v for v in votes]
    probs = list(probabilities or [])
    if (
        pairwise
        and len(votes) > 1
        and len(probs) == len(votes)
        and all(isinstance(p, dict) and ("A" in p or "B" in p) for p in probs)
    ):
        mean = {option: sum(_probability(p, option) for p in probs) / len(probs) for option in ("A", "B", "tie")}
        return max(("A", "B", "tie"), key=lambda option: mean[option])
    if len(set(votes)) == 1:
        return votes[0]
    if not pairwise:
        ordered = sorted(float(v) for v in votes)
        half = len(ordered) // 2
        mid = ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
        return str(round_half_up(mid)) if all(float(v).is_integer() for v in votes) else str(mid)
    return "tie"


def _probability(p: object, option: str) -> float:
    assert isinstance(p, dict)
    value = float(p.get(option, 0.0))
    return value + float(p.get("bothbad", 0.0)) if option == "tie" else value


def majority_verdict(verdicts: Iterable[str | None], *, min_votes: int = DEFAULT_MIN_VOTES) -> str | None:
    """The majority of raters' verdicts by :data:`MAJORITY_RULE`: None with fewer than ``min_votes``
    verdicts or a shared top count.

    >>> majority_verdict(["A"]), majority_verdict(["A"], min_votes=1), majority_verdict(["A", "A", "B"])
    (None, 'A', 'A')
    """
    present = [v for v in verdicts if v is not None]
    if len(present) < min_votes:
        return None
    return plurality(present)


def round_half_up(x: float) -> int:
    """The nearest whole number, halves upward: the scale point a median between two points stands
    for (Python's ``round`` sends halves to the even neighbour: 6.5 -> 6 but 7.5 -> 8).

    >>> round_half_up(6.5), round_half_up(7.5), round_half_up(2.4)
    (7, 8, 2)
    """
    return math.floor(x + 0.5)
