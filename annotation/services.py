"""The handles every front end needs: the settings, the engine and the session factory, built once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from annotation.config import Settings
from annotation.db import make_engine, make_sessionmaker, session_scope, upgrade


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings, *, migrate: bool = True) -> Services:
        engine = make_engine(settings.resolved_database_url(), busy_timeout_ms=settings.sqlite_busy_timeout_ms)
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, sessions=make_sessionmaker(engine))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
