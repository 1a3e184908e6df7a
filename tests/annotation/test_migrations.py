"""The schema comes from the Alembic migrations, and they match the ORM models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from annotation.db import current_revision, upgrade
from annotation.models import Base
from annotation.services import Services


def test_migrations_build_the_models_schema(services: Services) -> None:
    with services.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
    assert current_revision(services.engine) is not None
    tables = set(inspect(services.engine).get_table_names())
    assert {"annotators", "users", "tasks", "items", "labels", "label_events", "judge_runs"} <= tables


def test_upgrade_is_repeatable(services: Services) -> None:
    before = current_revision(services.engine)
    upgrade(services.engine)
    assert current_revision(services.engine) == before


def test_sqlite_pragmas(sqlite_services: Services) -> None:
    with sqlite_services.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
