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

# DataFrame.attrs key of a labels frame: the task's scale points in order (single-answer tasks on a
# scale of whole numbers), so weighted kappa takes its categories and distances from the scale, not
# from the points the raters happened to use
SCALE_ATTR = "judgelab_scale"
# DataFrame.attrs key of one question's labels frame: its level of measurement
# (``contracts.vocab.LEVELS``: pairwise, nominal, ordinal, interval), which decides the statistics
LEVEL_ATTR = "judgelab_level"
# DataFrame.attrs key: the question (name and kind) a labels frame holds
QUESTION_ATTR = "judgelab_question"
