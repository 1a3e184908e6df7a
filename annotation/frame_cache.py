"""A running app's analysis frames of its tasks, kept between reads and brought up to date by reading
only the labels written since (:class:`FrameCache`, held by ``Services``).

Reading a task's 500,000 labels row by row costs SQLite about 4 s, most of a dashboard refresh. The
one write path (``annotation.store``) stamps every label it inserts or changes with the task's new
``labels_version`` (``labels.version``) under the task's turn: the task row's lock on PostgreSQL,
the write lock on SQLite, held to the commit. So within a task the versions commit in order, and a
reader whose snapshot shows ``labels_version`` = V sees every label stamped V or lower. Frames held
at V are brought up to date by the labels above V: a changed label replaces its row, a new one is
added, and the few-valued columns are coded again as a whole read codes them. The result equals a
whole read (tests/annotation/test_frame_cache.py compares them after random writes on both
databases). Anything the stamps cannot show starts over with a whole read: a label count that
differs from the rows held (a deleted label), new items, a changed schema.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotation.catalog import get_task
from annotation.label_frames import label_rows, of_task, per_question, task_items_key, task_span, whole_read
from annotation.models import Label
from annotation.recent import Recent
from contracts.columns import coded_concat

log = logging.getLogger("judgelab.frames")

Frames = tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, str]]


@dataclass(frozen=True)
class _Held:
    version: int  # the task's labels_version the rows were read at (or later)
    items_key: tuple[int, int, int]  # the task's item count, first and last item id: items are only ever added
    span: tuple[int, int] | None  # the task's items as one range of ids (label_frames.task_span), if they are
    schema: Any  # the task's label schema, as stored
    rows: pd.DataFrame  # annotation.label_frames.label_rows
    items: pd.DataFrame


def merged(held: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """``held`` label rows (``label_rows``) with ``fresh`` ones of the same labels in their place and
    the new ones added, in label id order, each column as a read of all of them would give it."""
    if fresh.empty:
        return held
    keep = held[~np.isin(held["label_id"].to_numpy(), fresh["label_id"].to_numpy())]
    data: dict[str, Any] = {}
    for name in held.columns:
        a, b = keep[name], fresh[name]
        if isinstance(a.dtype, pd.CategoricalDtype):
            data[name] = coded_concat([a.array, b.array])
        elif a.dtype == b.dtype:
            data[name] = np.concatenate([a.to_numpy(), b.to_numpy()])
        else:  # e.g. numbers held, only missing values new: the type a read of the values gives
            data[name] = pd.Series(a.tolist() + b.tolist()).to_numpy()
    frame = pd.DataFrame(data, columns=held.columns)
    order = np.argsort(frame["label_id"].to_numpy(dtype=np.int64), kind="stable")
    return frame.take(order).reset_index(drop=True)


class FrameCache:
    """The analysis frames (``annotation.label_frames.task_question_frames``) of the ``size`` tasks
    read last, kept between reads (least recently read dropped first)."""

    def __init__(self, size: int = 2) -> None:
        self._held = Recent(size)
        # one read of a task at a time (two refreshes would read the same labels twice); other tasks'
        # reads go on meanwhile
        self._reading: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()  # guards ``_reading``

    def clear(self) -> None:
        self._held.clear()

    def _read_lock(self, task_id: int) -> threading.Lock:
        with self._lock:
            return self._reading.setdefault(task_id, threading.Lock())

    def question_frames(self, session: Session, task_name: str) -> Frames:
        """What ``task_question_frames(session, task_name)`` returns, read in ``session`` (its
        snapshot: on SQLite a read session's transaction), from the frames held when they can be
        brought up to date."""
        task = get_task(session, task_name)
        version = int(task.labels_version)  # read first: the rows read after it are this new or newer
        items_key = task_items_key(session, task.id)
        with self._read_lock(task.id):
            held = self._held.get(task.id)
            rows = None
            span = held.span if held is not None and held.items_key == items_key else task_span(session, items_key)
            if held is not None and (held.items_key, held.schema) == (items_key, task.label_schema):
                fresh = None if held.version == version else label_rows(session, task.id, since=held.version, span=span)
                rows = held.rows if fresh is None else merged(held.rows, fresh)
                # one range of an index where the task's items are one range of ids (21 ms at 500,000
                # labels, against 152 ms looking up each item)
                count = session.scalar(select(func.count()).select_from(Label).where(of_task(task.id, span)))
                if count != len(rows):  # a label went without a version to say so: read them all
                    log.warning("task %s: %s labels stored, %s held; reading them all", task_name, count, len(rows))
                    rows = None
            if rows is None or held is None:
                rows, items = whole_read(session, task.id)
            else:
                items = held.items
            self._held.put(task.id, _Held(version, items_key, span, task.label_schema, rows, items))
        return per_question(session, task, rows, items)
