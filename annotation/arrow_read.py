"""A select's rows read column by column into Arrow arrays through ADBC (Arrow Database
Connectivity: SQLite's and PostgreSQL's drivers write each value into a column buffer; the
PostgreSQL driver reads through ``COPY ... TO STDOUT (FORMAT binary)``), for the reads that
move hundreds of thousands of rows: the analysis read of a task's labels and items. The Python
driver makes a Python object of every value (six million for 500,000 labels): 4 to 5 s of a
dashboard refresh at 100,000 items, against about 1 s here.

:func:`arrow_columns` returns None when this path does not apply (another database, an in-memory
SQLite database that only the session's own connection sees, a statement with values that are not
plain numbers and texts, the drivers not installed) or when the driver fails on the data: the caller
then reads through the session as before. The read is a separate connection to the same database,
read-only in intent; it sees what is committed, as the session's own read would at the same moment.
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

from annotation.db import CHANGES_AT_BEGIN

log = logging.getLogger("judgelab.arrow_read")

# column types this path reads (a DateTime, an Enum... goes through the session's read)
_PLAIN = (Integer, Float, String, Text, JSON, Boolean)
# SQLite's driver infers each column's type from the first batch: one batch of every row, so a
# column whose first thousand values are NULL is not typed before its first value is seen
_ALL_ROWS = str(2**30)


def _connect(url: URL) -> Any:
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            return None
        import adbc_driver_sqlite.dbapi as sqlite_driver

        return sqlite_driver.connect(url.database)
    if url.get_backend_name() == "postgresql":
        import adbc_driver_postgresql.dbapi as pg_driver

        uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return pg_driver.connect(uri)
    return None


def has_written(session: Session) -> bool:
    """Whether ``session``'s transaction holds changes another connection cannot see yet: objects
    not flushed, or rows written (SQLite: the connection's change count moved since BEGIN;
    PostgreSQL: the transaction was given an id, which only a write does)."""
    if session.new or session.dirty or session.deleted:
        return True
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        at_begin = conn.info.get(CHANGES_AT_BEGIN)
        raw: Any = conn.connection.dbapi_connection
        return at_begin is None or raw.total_changes != at_begin
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql("SELECT pg_current_xact_id_if_assigned() IS NOT NULL").scalar() is not False
    return True


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
    if has_written(session):
        return None
    bind = session.connection()
    url = bind.engine.url
    try:
        sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # a parameter without a literal form: the session's read
        return None
    # SQLite: wait for a lock as long as the session's own connection would (settings'
    # sqlite_busy_timeout_ms); the driver's connection does not wait at all (opening a database whose
    # log another connection is recovering answered "database is locked")
    wait_ms = int(bind.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) if bind.dialect.name == "sqlite" else 0
    n_columns = len(stmt.selected_columns)

    def fetch() -> list[pa.Array] | None:
        try:
            conn = _connect(url)
        except ImportError:
            return None
        if conn is None:
            return None
        try:
            with conn.cursor() as cursor:
                if url.get_backend_name() == "sqlite":
                    cursor.execute(f"PRAGMA busy_timeout = {wait_ms}")
                    cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": _ALL_ROWS})
                cursor.execute(sql)
                table = cursor.fetch_arrow_table()
        except Exception as exc:  # the driver could not type a column (SQLite's mixed types): the row read
            log.warning("Arrow read fell back to the row read: %s", exc)
            return None
        finally:
            conn.close()
        if table.num_columns != n_columns:
            return None
        return [table.column(i).combine_chunks() for i in range(table.num_columns)]

    return fetch
