"""The contracts every package of judgelab shares, each written once: closed vocabularies, the
pairwise value map, the majority vote and the label/item column lists.

This package imports nothing of ours and nothing outside the standard library, so ``annotation``
(tables, CHECK constraints, the write path), ``analysis`` (pure functions over frames) and ``app``
(CLI choices, pages) can all read it without an arrow between them.
"""

from contracts.columns import ITEM_COLUMNS, LABEL_COLUMNS, LABEL_REQUIRED
from contracts.vocab import (
    ADMIN_ROLES,
    ANNOTATE_ROLES,
    ANNOTATOR_KINDS,
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    LABEL_STATUSES,
    PAIRWISE_NUMBERS,
    PAIRWISE_VALUES,
    PRESENTED_ORDERS,
    PROTOCOLS,
    RESEARCH_ROLES,
    ROLES,
    RUN_STATUSES,
    TIE_VALUES,
    flip_pairwise,
    plurality,
    sql_in,
)

__all__ = [
    "ADMIN_ROLES",
    "ANNOTATE_ROLES",
    "ANNOTATOR_KINDS",
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "ITEM_COLUMNS",
    "LABEL_COLUMNS",
    "LABEL_REQUIRED",
    "LABEL_STATUSES",
    "PAIRWISE_NUMBERS",
    "PAIRWISE_VALUES",
    "PRESENTED_ORDERS",
    "PROTOCOLS",
    "RESEARCH_ROLES",
    "ROLES",
    "RUN_STATUSES",
    "TIE_VALUES",
    "flip_pairwise",
    "plurality",
    "sql_in",
]
