"""The handles every front end needs: the settings, the engine and the session factory, built once."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from annotation.config import Settings
from annotation.db import READ_ONLY, make_engine, make_sessionmaker, session_scope, upgrade
from annotation.frame_cache import FrameCache
from annotation.recent import Recent

T = TypeVar("T")
log = logging.getLogger("judgelab.db")
# deadlock_detected, serialization_failure: PostgreSQL asks the client to retry the transaction
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # SQLite takes its write lock at BEGIN; threads of one process queue here instead of polling
    # the file lock with sleeps (the busy handler's backoff gave seconds-long tails under load)
    sqlite_lock: threading.RLock | None = field(default=None)
    recent: Recent = field(default_factory=Recent)
    # the analysis frames of the tasks read last, brought up to date by the labels written since
    frames: FrameCache = field(default_factory=FrameCache)

    def __post_init__(self) -> None:
        if self.sqlite_lock is None and self.engine.dialect.name == "sqlite":
            self.sqlite_lock = threading.RLock()

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True) -> Services:
        engine = make_engine(settings.resolved_database_url(), busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, sessions=make_sessionmaker(engine))

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self.sqlite_lock is None:
            with session_scope(self.sessions) as session:
                yield session
            return
        with self.sqlite_lock, session_scope(self.sessions) as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reads only (the login check): on SQLite it neither takes the process's lock
        nor the database's write lock, so a login never waits for an import and never holds up a
        label. Writing through it is a bug (SQLite refuses it once another writer is active)."""
        if self.sqlite_lock is None:
            with session_scope(self.sessions) as session:
                yield session
            return
        reader = make_sessionmaker(self.engine.execution_options(**{READ_ONLY: True}))
        with session_scope(reader) as session:
            yield session

    def transaction(self, work: Callable[[Session], T], *, attempts: int = 4) -> T:
        """Run ``work(session)`` in one transaction; when PostgreSQL aborts it as a deadlock victim
        or a serialization failure (SQLSTATE 40P01 / 40001, which ask the client to retry), run
        it again from the start, with a short jittered pause, up to ``attempts`` times."""
        for attempt in range(1, attempts + 1):
            try:
                with self.session() as session:
                    return work(session)
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in RETRYABLE_SQLSTATES or attempt == attempts:
                    raise
                log.warning("transaction aborted by the database (%s), retrying (attempt %d)", code, attempt + 1)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.frames.clear()
        self.engine.dispose()
