"""``judgelab db check``: integrity of the database file and of the rows the constraints cannot see."""

from __future__ import annotations

from dataclasses import dataclass, field

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
