"""``judgelab checklist``: a judge writes each item's YES/NO checklist (TICK, Cook et al. 2024), stored
as the item's checklist with the generator's identity (its annotator name and config hash), before
humans and judges answer it. Items that already have a checklist keep it (their entries may have
answers); a reply that is not a list of questions leaves the item without one, counted and said, so a
rerun retries exactly those."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from sqlalchemy import select

from annotation.catalog import get_task
from annotation.errors import ConfigError, JudgelabError
from annotation.judges.backends import Completion, GiveUp, create_backend
from annotation.judges.config import JudgeConfig
from annotation.judges.prompts import JudgeRequest, render_messages
from annotation.judges.runner import judge_annotator
from annotation.judges.template_files import TEMPLATES
from annotation.models import Item, JudgeRun, utcnow
from annotation.schema import CHECKLIST_ENTRY_CHARS, MAX_CHECKLIST, parse_schema
from annotation.services import Services


@dataclass
class ChecklistSummary:
    generator: str
    written: int
    failed: int
    present: int
    failures: list[str]

    def describe(self) -> str:
        more = f"; failed items: {', '.join(self.failures[:5])}" if self.failures else ""
        return (
            f"checklists by {self.generator}: {self.written} written, {self.failed} failed (rerun to retry), "
            f"{self.present} items already had one{more}"
        )


def checklist_schema(max_entries: int) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {
            "checklist": {
                "type": "array",
                "items": {"type": "string", "maxLength": CHECKLIST_ENTRY_CHARS},
                "minItems": 1,
                "maxItems": max_entries,
            }
        },
        "required": ["checklist"],
        "additionalProperties": False,
    }


def parse_checklist(text: str, max_entries: int) -> tuple[list[str] | None, str | None]:
    """The questions of a reply ``{"checklist": [...]}``: each non-empty, within the length limit,
    at most ``max_entries``; else None and why."""
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg})"
    entries = data.get("checklist") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None, "no 'checklist' list in the reply"
    kept = [e.strip() for e in entries if isinstance(e, str) and e.strip()]
    kept = [e for e in kept if len(e) <= CHECKLIST_ENTRY_CHARS][:max_entries]
    if not kept:
        return None, "the checklist has no question"
    return kept, None


def generate_checklists(
    services: Services, *, task: str, config: JudgeConfig, limit: int | None = None, max_entries: int = 6
) -> ChecklistSummary:
    """Ask the judge for the checklist of every item of ``task`` that has none (the first ``limit``)."""
    if config.mode != "reasoning":
        raise ConfigError("a checklist is written text: use mode: reasoning", fix="set mode: reasoning")
    if not 1 <= max_entries <= MAX_CHECKLIST:
        raise JudgelabError(f"--max-entries must be 1 to {MAX_CHECKLIST}", value=max_entries)
    builtin = config.template == "builtin"
    template = (TEMPLATES / "checklist.j2").read_text(encoding="utf-8") if builtin else config.template_text()
    generator = config.model_copy(update={"protocol": "single"}) if not config.protocol.startswith("single") else config
    with services.session() as session:
        task_row = get_task(session, task)
        schema = parse_schema(task_row.label_schema)
        if schema.first_of("checklist") is None:
            raise JudgelabError(
                f"task {task!r} asks no checklist question",
                fix="import the task with --schema naming a question of kind: checklist (source: generated)",
            )
        annotator = judge_annotator(session, generator, template=template)
        name, identity_hash = annotator.name, annotator.config_hash
        rows = session.execute(
            select(Item.id, Item.prompt, Item.checklist).where(Item.task_id == task_row.id).order_by(Item.id)
        ).all()
        rows = rows[:limit] if limit is not None else rows
        todo = [(r.id, r.prompt) for r in rows if not r.checklist]
        run = JudgeRun(annotator_id=annotator.id, task_id=task_row.id, status="running", n_total=len(todo))
        session.add(run)
        session.flush()
        run_id, instructions = run.id, task_row.instructions
    requests = [
        JudgeRequest(
            item_id,
            "ab",
            render_messages(
                template,
                {
                    "instructions": instructions.strip() or "Judge whether a response serves the user.",
                    "prompt": prompt,
                    "max_entries": max_entries,
                },
            ),
            [],
            schema_override=checklist_schema(max_entries),
        )
        for item_id, prompt in todo
    ]
    results = asyncio.run(_complete(generator, requests))
    written: dict[int, list[str]] = {}
    failures: list[str] = []
    for req, result in zip(requests, results, strict=True):
        if isinstance(result, GiveUp):
            failures.append(f"item {req.item_id}: {result.reason}")
            continue
        entries, why = parse_checklist(result.texts[0], max_entries)
        if entries is None:
            failures.append(f"item {req.item_id}: {why}")
        else:
            written[req.item_id] = entries
    with services.session() as session:
        for item_id, entries in written.items():
            item = session.get(Item, item_id)
            if item is not None and not item.checklist:
                item.checklist = {
                    "entries": entries,
                    "source": "generated",
                    "generator": name,
                    "config_hash": identity_hash,
                }
        row = session.get(JudgeRun, run_id)
        if row is not None:
            row.n_done, row.n_failed = len(written), len(failures)
            row.status, row.finished_at = "finished", utcnow()
            row.error = "; ".join(failures[:5]) or None
    return ChecklistSummary(name, len(written), len(failures), len(rows) - len(todo), failures)


async def _complete(config: JudgeConfig, requests: list[JudgeRequest]) -> list[Completion | GiveUp]:
    backend = create_backend(config)
    try:
        if backend.batched:
            return list(await backend.complete_batch(requests))
        gate = asyncio.Semaphore(backend.slots)

        async def one(req: JudgeRequest) -> Completion | GiveUp:
            async with gate:
                try:
                    return await backend.complete(req)
                except GiveUp as exc:
                    return exc

        return list(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        await backend.close()
