"""``judgelab db check``: integrity of the database file and of the rows the constraints cannot see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

# rows that point nowhere (possible only if foreign keys were off when they were written)
_ORPHANS = {
    "labels without an item": "SELECT count(*) FROM labels l LEFT JOIN items i ON i.id = l.item_id WHERE i.id IS NULL",
    "labels without an annotator": "SELECT count(*) FROM labels l LEFT JOIN annotators a ON a.id = l.annotator_id "
    "WHERE a.id IS NULL",
    "items without a task": "SELECT count(*) FROM items i LEFT JOIN tasks t ON t.id = i.task_id WHERE t.id IS NULL",
    "label events without a label": "SELECT count(*) FROM label_events e LEFT JOIN labels l ON l.id = e.label_id "
    "WHERE l.id IS NULL",
    "users without an annotator": "SELECT count(*) FROM users u LEFT JOIN annotators a ON a.id = u.annotator_id "
    "WHERE a.id IS NULL",
    "submitted labels without a value": "SELECT count(*) FROM labels WHERE status = 'submitted' AND value IS NULL",
    "failed labels without raw output or error": "SELECT count(*) FROM labels WHERE status = 'failed' "
    "AND raw_output IS NULL AND error IS NULL",
}


@dataclass
class HealthReport:
    ok: bool = True
    checks: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, passed: bool, detail: str) -> None:
        self.ok = self.ok and passed
        self.checks.append((name, ("ok: " if passed else "PROBLEM: ") + detail))

    def lines(self) -> list[str]:
        return [f"{name}: {detail}" for name, detail in self.checks] + [
            "database is healthy" if self.ok else "database has problems (see above)"
        ]


def check_database(engine: Engine) -> HealthReport:
    report = HealthReport()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
            report.add("integrity_check", rows == ["ok"], "; ".join(rows[:5]))
            fk = conn.execute(text("PRAGMA foreign_key_check")).all()
            report.add("foreign_key_check", not fk, f"{len(fk)} rows violate foreign keys")
        for name, sql in _ORPHANS.items():
            count = int(conn.execute(text(sql)).scalar() or 0)
            report.add(name, count == 0, f"{count} rows")
    return report


class WalWatch:
    """Notices a SQLite database whose write-ahead log vanished under a running server.

    While the server has the database open in WAL mode its ``-wal`` file exists. When another
    process opens and closes the same file (a careless ``sqlite3`` shell, a template or backup that
    reads it), that process's close can drop the server's POSIX locks and checkpoint and delete the
    WAL; writes acknowledged since may be lost without ``db check`` noticing. :meth:`check` (called
    every few seconds by ``serve``) compares the file's identity and the WAL's presence with what it
    saw at start and logs one loud error when they change."""

    def __init__(self, db_path: str, log: Callable[[str], None]) -> None:
        self.db = Path(db_path)
        self.wal = self.db.with_name(self.db.name + "-wal")
        self.log = log
        self.inode = self._inode(self.db)
        self.seen_wal = self.wal.exists()
        self.warned = False

    @staticmethod
    def _inode(path: Path) -> int | None:
        try:
            return path.stat().st_ino  # stat only: opening the file is what drops the locks
        except OSError:
            return None

    def check(self) -> bool:
        """True while all is as at start; False (and one logged error) once it is not."""
        if self.inode is None:
            return True
        problem = None
        if self._inode(self.db) != self.inode:
            problem = f"the database file {self.db} was replaced or removed under the running server"
        elif self.wal.exists():
            self.seen_wal = True
        elif self.seen_wal:
            problem = (
                f"the database's write-ahead log {self.wal} disappeared: another process opened and closed "
                "the database, which can drop this server's locks"
            )
        if problem is None:
            return True
        if not self.warned:
            self.log(
                f"{problem}; labels written from now on may be lost. Stop the server, run "
                "'judgelab db check', and start it again"
            )
            self.warned = True
        return False
