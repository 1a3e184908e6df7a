"""A select's rows read column by column into Arrow arrays through ADBC (Arrow Database
Connectivity: PostgreSQL's driver reads through ``COPY ... TO STDOUT (FORMAT binary)`` and writes each
value into a column buffer), for the reads that move hundreds of thousands of rows: the analysis read
of a task's labels and items. The Python driver makes a Python object of every value (six million for
500,000 labels).

Never on SQLite. ADBC's SQLite driver carries its own copy of the SQLite library; two copies in one
process cannot see each other's locks (SQLite's "multiple copies of SQLite linked into the same
application"). Closing the driver's connection released the process's POSIX locks on the database file
and, as it saw no other connection, checkpointed and deleted the write-ahead log under the server's
open connections: the server's health check reported it and a label written after it was lost (the
app's tests caught it; ``tests/annotation/test_label_frames.py`` keeps the attack).

:func:`arrow_columns` returns None when this path does not apply (SQLite, another database, a
statement with values that are not plain numbers and texts, the driver not installed, a session that
has written in its transaction) or when the driver fails: the caller then reads through the session.
The read is a separate connection to the same database; it sees what is committed, as the session's
own read (READ COMMITTED) would at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
from sqlalchemy import JSON, Boolean, Float, Integer, String, Text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

log = logging.getLogger("judgelab.arrow_read")

# column types this path reads (a DateTime, an Enum... goes through the session's read)
_PLAIN = (Integer, Float, String, Text, JSON, Boolean)


def _connect(url: URL) -> Any:
    """A connection of PostgreSQL's driver to the database at ``url`` (a PostgreSQL URL)."""
    import adbc_driver_postgresql.dbapi as pg_driver

    return pg_driver.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


def has_written(session: Session) -> bool:
    """Whether ``session``'s transaction (on PostgreSQL) holds changes another connection cannot see
    yet: objects not flushed, or rows written (the transaction was given an id, which only a write or
    a row lock does)."""
    if session.new or session.dirty or session.deleted:
        return True
    found = session.connection().exec_driver_sql("SELECT pg_current_xact_id_if_assigned() IS NOT NULL").scalar()
    return found is not False


def arrow_columns(session: Session, stmt: Any) -> list[pa.Array] | None:
    """The rows of ``stmt`` (a select of plain columns) as one Arrow array per selected column, or None
    when this path does not apply (see the module's note), or when ``session`` has written in its
    transaction (another connection would not see those rows)."""
    fetch = prepare(session, stmt)
    return fetch() if fetch is not None else None


def start(session: Session, stmt: Any) -> Future[list[pa.Array] | None] | None:
    """:func:`arrow_columns` on a thread of its own: the driver reads without the interpreter lock,
    so another read can run meanwhile (the items while the labels are read). The checks run here, on
    the caller's thread (a session is not shared between threads)."""
    fetch = prepare(session, stmt)
    if fetch is None:
        return None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgelab-arrow-read")
    try:
        return pool.submit(fetch)
    finally:
        pool.shutdown(wait=False)  # the read runs on; the thread ends with it


def prepare(session: Session, stmt: Any) -> Callable[[], list[pa.Array] | None] | None:
    """What :func:`arrow_columns` reads, as a function that touches only its own connection; None
    when the Arrow path does not apply."""
    if not all(isinstance(c.type, _PLAIN) for c in stmt.selected_columns):
        return None
    bind = session.connection()
    if bind.dialect.name != "postgresql" or has_written(session):  # never SQLite: see the module's note
        return None
    url = bind.engine.url
    try:
        sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # a parameter without a literal form: the session's read
        return None
    n_columns = len(stmt.selected_columns)

    def fetch() -> list[pa.Array] | None:
        try:
            conn = _connect(url)
        except ImportError:
            return None
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                table = cursor.fetch_arrow_table()
        except Exception as exc:  # the driver failed (a type it does not read): the session's row read
            log.warning("Arrow read fell back to the row read: %s", exc)
            return None
        finally:
            conn.close()
        if table.num_columns != n_columns:
            return None
        return [table.column(i).combine_chunks() for i in range(table.num_columns)]

    return fetch
