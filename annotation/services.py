"""The handles every front end needs: the settings, the engine and the session factory, built once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from annotation.config import Settings
from annotation.db import make_engine, make_sessionmaker, session_scope, upgrade


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # SQLite takes its write lock at BEGIN; threads of one process queue here instead of polling
    # the file lock with sleeps (the busy handler's backoff gave seconds-long tails under load)
    sqlite_lock: threading.RLock | None = field(default=None)

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

    def close(self) -> None:
        self.engine.dispose()
