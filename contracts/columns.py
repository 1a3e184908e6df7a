"""The column contract between ``annotation`` (which reads the database) and ``analysis`` (pure
functions over DataFrames), written once.

``labels``: one row per label, the columns of :data:`LABEL_COLUMNS` (``store.labels_frame`` builds
its SELECT from this list); ``question`` names the task's question it answers (``NAME.K`` for
checklist entry K). Analysis needs :data:`LABEL_REQUIRED`; ``confidence`` is the rater's raw
click on the task's declared confidence scale and ``confidence_p`` the same stated confidence on
[0, 1] (read from the scale, never guessed from the value).
``items``: one row per item, :data:`ITEM_COLUMNS` plus ``len_a``, ``len_b`` and every metadata key
as its own column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

LABEL_COLUMNS: tuple[str, ...] = (
    "label_id",
    "item_id",
    "external_id",
    "annotator",
    "kind",
    "question",
    "status",
    "value",
    "value_num",
    "presented_order",
    "replicate",
    "rationale",
    "confidence",
    "confidence_p",
    "probabilities",
    "raw_output",
    "error",
    "duration_ms",
    "judge_run_id",
    "config_hash",
    "created_at",
    "updated_at",
    "metadata",
)
LABEL_REQUIRED: tuple[str, ...] = ("item_id", "annotator", "kind", "status", "value", "value_num", "presented_order")
# the few-valued text columns: analysis holds them as ordered categoricals whose categories are the
# sorted texts (``analysis.frames.coded``), so filters, merges and groupings move integer codes, not
# strings; the analysis read (``label_frames.task_frames``) builds them so
LABEL_CODED: tuple[str, ...] = ("annotator", "kind", "question", "status", "value", "presented_order")
# what analysis reads of the labels (``label_frames.task_frames``): the free text (rationale, raw
# output, error), run bookkeeping and timestamps are for the exports and the record view
ANALYSIS_LABEL_COLUMNS: tuple[str, ...] = (
    *LABEL_REQUIRED,
    "question",
    "replicate",
    "confidence",
    "confidence_p",
    "probabilities",
    "metadata",  # how a label was selected (judge-assisted estimates: selection, inclusion probability)
)

ITEM_COLUMNS: tuple[str, ...] = (
    "item_id",
    "external_id",
    "prompt",
    "response_a",
    "response_b",
    "model_a",
    "model_b",
    "reference",
    "category",
    "gold",
    "checklist",
    "conversation",
    "metadata",
)
# what analysis reads of the items: the responses' lengths (``len_a``, ``len_b``), not their text
ITEM_TEXTS: tuple[str, ...] = ("response_a", "response_b")
ANALYSIS_ITEM_COLUMNS: tuple[str, ...] = tuple(c for c in ITEM_COLUMNS if c not in ITEM_TEXTS)

# DataFrame.attrs key of a labels frame: the task's scale points in order (single-answer tasks on a
# scale of whole numbers), so weighted kappa takes its categories and distances from the scale, not
# from the points the raters happened to use
SCALE_ATTR = "judgelab_scale"
# DataFrame.attrs key of one question's labels frame: its level of measurement
# (``contracts.vocab.LEVELS``: pairwise, nominal, ordinal, interval), which decides the statistics
LEVEL_ATTR = "judgelab_level"
# DataFrame.attrs key: the question (name and kind) a labels frame holds
QUESTION_ATTR = "judgelab_question"


def coded_order(value: Any) -> tuple[str, Any]:
    """The order of a coded column's categories: by value, text as text (mixed types by type first)."""
    return (str(type(value)), value)


def coded_column(values: Any) -> pd.Categorical:
    """``values`` (a sequence of texts, None for missing) as a coded column (:data:`LABEL_CODED`): an
    ordered categorical whose categories are the distinct values sorted by :func:`coded_order`."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    order = sorted(range(len(uniques)), key=lambda i: coded_order(uniques[i]))
    rank = np.full(len(order) + 1, -1, dtype=np.int64)  # the last entry: a missing value stays missing
    rank[order] = np.arange(len(order))
    return pd.Categorical.from_codes(rank[codes], categories=pd.Index([uniques[i] for i in order]), ordered=True)


def coded_concat(parts: Any) -> pd.Categorical:
    """Coded columns (:func:`coded_column`) one after another, coded as :func:`coded_column` codes
    their values together: the categories are the values present, sorted (a category no row holds
    any more is dropped)."""
    import numpy as np
    import pandas as pd

    seen: dict[Any, int] = {}
    for part in parts:
        for value in part.categories:
            seen.setdefault(value, len(seen))
    values = list(seen)
    codes = np.concatenate(
        [np.append(np.array([seen[v] for v in p.categories], dtype=np.int64), -1)[p.codes] for p in parts]
    )
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(values)))
    order = sorted(used, key=lambda i: coded_order(values[i]))
    rank = np.full(len(values) + 1, -1, dtype=np.int64)  # the last entry: a missing value stays missing
    rank[order] = np.arange(len(order))
    return pd.Categorical.from_codes(rank[codes], categories=pd.Index([values[i] for i in order]), ordered=True)
