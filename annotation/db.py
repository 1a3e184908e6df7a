"""Engine and session scope. SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL uses psycopg 3.

The schema comes from Alembic migrations only (:func:`upgrade`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Engine, create_engine, event, insert, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from annotation.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READ_ONLY = "judgelab_read_only"  # execution option of the engine behind Services.read_session


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        )
        _install_sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    if url.startswith("postgresql+psycopg"):
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise ConfigError(
        "unsupported database URL",
        value=url,
        fix="use 'sqlite:///path/to/file.db' or 'postgresql+psycopg://user@host/db'",
    )


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # the driver's own BEGIN handling defers locks; we take them at BEGIN (IMMEDIATE below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE: a writer takes the write lock up front, so two writers queue on the busy
        # timeout instead of failing with "database is locked" when a read lock is upgraded.
        # A read-only connection (Services.read_session) begins DEFERRED: in WAL mode it reads a
        # snapshot without waiting for, or holding up, any writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` with the Alembic migrations."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except OperationalError:
        return None
    except Exception:
        return None
    return None if row is None else str(row[0])


def insert_for(dialect: str, model: type[Any]) -> Any:
    """An INSERT of an ORM class's table that can say ``ON CONFLICT`` (``on_conflict_do_nothing``,
    ``on_conflict_do_update``) on either database: PostgreSQL's or SQLite's own insert construct."""
    construct = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return construct(inspect(model).local_table)


def insert_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert many rows of an ORM class (dicts keyed by its attribute names, all with the same keys)
    the fastest way each database takes them. On SQLite: :func:`insert_columns` (the driver's
    ``executemany``, about three times faster than the ORM's bulk insert). On PostgreSQL the ORM's
    bulk insert, whose multi-row statements beat psycopg's ``executemany`` (one statement per
    row). The rows must carry every column with a Python-side default (the SQLite path does not
    run them)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(model), rows)
        return
    keys = list(rows[0])
    insert_columns(session, model, {key: [row[key] for row in rows] for key in keys}, len(rows))


def columns_by_attribute(model: type[Any]) -> dict[str, Any]:
    """An ORM class's table columns by attribute name (``Label.meta`` is the column ``metadata``)."""
    return {attr.key: attr.columns[0] for attr in inspect(model).column_attrs}


def loaded(session: Session, model: type[Any], key: int) -> Any:
    """The row of ``model`` with primary key ``key`` when this session holds it already, else None
    (no query)."""
    return session.identity_map.get(identity_key(model, key))


def insert_columns(session: Session, model: type[Any], columns: dict[str, Any], n: int) -> None:
    """Insert ``n`` rows of an ORM class given column by column: ``columns`` maps an attribute name
    to a list of ``n`` values, or to one value every row has (a non-list: the import's timestamp,
    the task id). Each value is converted by its column type's own bind processor (SQLAlchemy's
    conversion, a repeated value converted once). SQLite takes the rows by the driver's
    ``executemany``; PostgreSQL by ``COPY ... FROM STDIN`` (a JSON value as its JSON text), the
    bulk load it is built for, several times faster than any INSERT. Every column with a
    Python-side default must be given (these paths do not run them)."""
    if n == 0:
        return
    dialect = session.get_bind().dialect
    table = inspect(model).local_table
    attrs = columns_by_attribute(model)
    keys = list(columns)
    targets = [attrs[key] for key in keys]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in targets)
    values: list[Any] = []
    for key, column in zip(keys, targets, strict=True):
        given = columns[key]
        if dialect.name == "sqlite":
            # the dialect's own type: generic DateTime has no processor, SQLite's DATETIME writes
            # the text SQLAlchemy reads back (the driver's adapter would write another)
            convert = column.type.dialect_impl(dialect).bind_processor(dialect)
        else:  # COPY reads each value as text: JSON goes as its text, the rest as psycopg writes it
            convert = _json_text if isinstance(column.type, JSON) else None
        if not isinstance(given, list):
            values.append(itertools.repeat(given if convert is None else convert(given), n))
        elif convert is None:
            values.append(given)
        else:
            values.append(_converted(given, convert))
    rows = zip(*values, strict=True)
    if dialect.name == "sqlite":
        sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' for _ in targets)})"
        session.connection().exec_driver_sql(sql, list(rows))
        return
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _converted(values: list[Any], convert: Any) -> list[Any]:
    """``convert`` applied to each value, a value identical to the one before converted once."""
    out: list[Any] = []
    last: Any = object()
    done: Any = None
    for value in values:
        if value is not last:
            last, done = value, convert(value)
        out.append(done)
    return out


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: have the planner's statistics of items and labels taken now, in this transaction
    (it counts its own new rows), instead of when autovacuum gets to it. On the statistics of an
    empty table the planner read a whole task per bucket in the queue's walk (25 ms per submit at
    1,000 items). SQLite plans these queries by their indexes alone."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE items, labels"))
