"""``judgelab judge run``: label a task's items with a judge, resumably.

Work is every (item, presented order) without a label of this judge yet (``ab``, and ``ba`` with
swap). Requests run concurrently (bounded per base URL); results are written in small batches
through ``store.submit_labels`` (the one write path), so killing the process loses at most the
requests in flight and a rerun picks up exactly what is missing: no duplicates, no gaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from tqdm import tqdm

from annotation.catalog import config_hash, ensure_annotator, get_task
from annotation.errors import JudgelabError
from annotation.judges.backends import Backend, Completion, GiveUp, create_backend
from annotation.judges.config import JudgeConfig
from annotation.judges.parsing import majority, option_probabilities, parse_choice, parse_questions, parse_reasoning
from annotation.judges.prompts import (
    ItemView,
    JudgeRequest,
    asks_questions,
    build_question_request,
    build_request,
    item_asks,
)
from annotation.models import LABEL_STATUSES, PRESENTED_ORDERS, Annotator, Item, JudgeRun, Label, Task, utcnow
from annotation.schema import DEFAULT_QUESTION, ScaleSchema, TaskSchema, parse_schema
from annotation.services import Services
from annotation.store import LabelIn, submit_labels

FLUSH_EVERY_S = 0.5
FLUSH_SIZE = 64


class RunnerError(JudgelabError):
    """The run stopped (database unavailable, cancelled); a rerun completes the task."""


@dataclass
class RunSummary:
    run_id: int
    judge: str
    total: int
    done: int
    failed: int
    skipped_existing: int
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    retries: int

    @property
    def per_second(self) -> float:
        return (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        return (
            f"judge {self.judge}: {self.done} labeled, {self.failed} failed, {self.skipped_existing} already done; "
            f"{self.per_second:.2f} judgments/s over {self.seconds:.1f} s; tokens: {self.prompt_tokens} prompt, "
            f"{self.completion_tokens} completion; {self.retries} retries (run {self.run_id})"
        )


@dataclass
class _Plan:
    run_id: int
    annotator_id: int
    judge: str
    requests: list[JudgeRequest]
    skipped: int
    pairwise: bool

    @property
    def n_labels(self) -> int:
        """The labels the run writes: one per question asked (one per one-question request)."""
        return sum(len(r.asks) or 1 for r in self.requests)


RENDER_LIMIT_S = 60.0  # rendering every request of a run may take this long, no more
MAX_PROMPT_CHARS = 400_000  # one rendered request may be this long, no more


def plan(services: Services, task_name: str, config: JudgeConfig, *, limit: int | None, retry_failed: bool) -> _Plan:
    """Create the annotator and the run row first (so a slow plan is visible and cancellable); then,
    outside the database session, render the (item, order) requests still to do, within
    :data:`RENDER_LIMIT_S` and :data:`MAX_PROMPT_CHARS`; a failure ends the run row ``failed``."""
    with services.session() as session:
        task = get_task(session, task_name)
        if task.protocol == "pairwise" and not config.protocol.startswith("pairwise"):
            raise JudgelabError(
                f"task {task_name!r} is pairwise but the judge's protocol is {config.protocol!r}",
                fix="set protocol: pairwise (or pairwise_reference)",
            )
        if task.protocol == "single" and not config.protocol.startswith("single"):
            raise JudgelabError(
                f"task {task_name!r} is single-answer but the judge's protocol is {config.protocol!r}",
                fix="set protocol: single (or single_reference)",
            )
        schema = parse_schema(task.label_schema)
        questions = asks_questions(schema)
        first = schema.first
        scale = (first.min, first.max) if isinstance(first, ScaleSchema) and not questions else None
        template = config.template_text(questions=questions)
        annotator = judge_annotator(session, config, questions=questions)
        items = session.execute(
            select(
                Item.id,
                Item.prompt,
                Item.response_a,
                Item.response_b,
                Item.reference,
                Item.conversation,
                Item.checklist,
            )
            .where(Item.task_id == task.id)
            .order_by(Item.id)
        ).all()
        if limit is not None:
            items = items[:limit]
        done_statuses = [s for s in LABEL_STATUSES if not (retry_failed and s == "failed")]
        done: set[tuple[int, str, str]] = set(
            (int(r[0]), str(r[1]), str(r[2]))
            for r in session.execute(
                select(Label.item_id, Label.presented_order, Label.question).where(
                    Label.annotator_id == annotator.id, Label.replicate == 0, Label.status.in_(done_statuses)
                )
            ).all()
        )
        run = JudgeRun(annotator_id=annotator.id, task_id=task.id, status="running", n_total=0)
        session.add(run)
        session.flush()
        run_id, annotator_id, judge, instructions = run.id, annotator.id, annotator.name, task.instructions
        pairwise = task.protocol == "pairwise"
    try:
        requests, skipped = _render(
            config, template, instructions, items, done, scale, schema if questions else None, first.name
        )
    except Exception as exc:
        with services.session() as session:
            row = session.get(JudgeRun, run_id)
            if row is not None:
                row.status, row.error, row.finished_at = "failed", _reason(exc), utcnow()
        raise
    planned = _Plan(run_id, annotator_id, judge, requests, skipped, pairwise)
    with services.session() as session:
        row = session.get(JudgeRun, run_id)
        if row is not None:
            row.n_total = planned.n_labels
    return planned


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, JudgelabError) else f"{type(exc).__name__}: {exc}"


def _render(
    config: JudgeConfig,
    template: str,
    instructions: str,
    items: Sequence[Any],
    done: set[tuple[int, str, str]],
    scale: tuple[int, int] | None,
    schema: TaskSchema | None = None,
    only_question: str = DEFAULT_QUESTION,
) -> tuple[list[JudgeRequest], int]:
    """Every request still to do, rendered with a time and size limit. ``schema``: a task of several
    questions (one request per item and order asking every question still missing, or one per
    question in logprobs mode); else the one-question templates, asking ``only_question``."""
    orders = PRESENTED_ORDERS if config.swap else PRESENTED_ORDERS[:1]
    requests: list[JudgeRequest] = []
    skipped = 0
    started = time.monotonic()
    for row in items:
        view = ItemView(row.id, row.prompt, row.response_a, row.response_b, row.reference, row.conversation)
        for order in orders:
            if schema is None:
                if (row.id, order, only_question) in done:
                    skipped += 1
                    continue
                batch = [
                    build_request(config, template, instructions=instructions, item=view, order=order, scale=scale)
                ]
            else:
                asks = item_asks(schema, row.checklist, order, mode=config.mode)
                missing = [a for a in asks if (row.id, order, a.key) not in done]
                if not missing:
                    skipped += 1
                    continue
                groups = [[a] for a in missing] if config.mode == "logprobs" else [missing]
                batch = [
                    build_question_request(
                        config, template, instructions=instructions, item=view, order=order, asks=group
                    )
                    for group in groups
                ]
            for request in batch:
                _check_size(request, row.id, started)
            requests.extend(batch)
    return requests, skipped


def _check_size(request: JudgeRequest, item_id: int, started: float) -> None:
    """One rendered request within :data:`MAX_PROMPT_CHARS`, the whole rendering within :data:`RENDER_LIMIT_S`."""
    size = sum(len(str(m.get("content", ""))) for m in request.messages)
    if size > MAX_PROMPT_CHARS:
        raise JudgelabError(
            f"the template renders item {item_id} into {size:,} characters, over {MAX_PROMPT_CHARS:,}",
            fix="shorten the template (a loop or a repeated field makes prompts grow)",
        )
    if time.monotonic() - started > RENDER_LIMIT_S:
        raise JudgelabError(
            f"rendering the requests took over {RENDER_LIMIT_S:.0f} s (at item {item_id})",
            fix="simplify the template",
        )


def judge_annotator(
    session: Session, config: JudgeConfig, *, questions: bool = False, template: str | None = None
) -> Annotator:
    """The judge's annotator row, created when absent. A ``name:`` that is already a judge with another
    identity (model, template, sampling...) is refused: its labels would mix two raters. ``questions``:
    the task asks several questions (the built-in template is then ``questions.j2``); ``template``:
    the text it is asked with instead (a checklist writer's)."""
    identity = config.identity(questions=questions, template=template)
    name = config.annotator_name(questions=questions, template=template)
    existing = session.scalars(select(Annotator).where(Annotator.name == name)).first()
    if (
        existing is not None
        and existing.kind == "llm_judge"
        and existing.config_hash not in (None, config_hash(identity))
    ):
        raise JudgelabError(
            f"judge {name!r} exists with another configuration (model, template, sampling or mode differ)",
            fix="give this judge another name: (or none: judgelab names it model@hash)",
        )
    return ensure_annotator(session, name, kind="llm_judge", config=identity)


def _label_keys(p: _Plan, req: JudgeRequest) -> dict[str, Any]:
    """What every label of a request shares: its item, the judge, the order shown and the run."""
    return {
        "item_id": req.item_id,
        "annotator_id": p.annotator_id,
        "presented_order": req.presented_order,
        "judge_run_id": p.run_id,
    }


def _usage(result: Completion) -> dict[str, Any]:
    """A completion's provenance kept in a label's metadata: tokens, attempts, endpoint."""
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "attempts": result.attempts,
        "endpoint": result.endpoint,
    }


def to_labels(p: _Plan, config: JudgeConfig, req: JudgeRequest, result: Completion | GiveUp) -> list[LabelIn]:
    """A completion (or a give-up) as labels: one per question asked, each submitted with its verdict
    or failed with the raw output and the reason (a reply that misses one question fails that one)."""
    if not req.asks:
        return [to_label(p, config, req, result)]
    common = _label_keys(p, req)
    if isinstance(result, GiveUp):
        return [
            LabelIn(
                value=None,
                question=a.key,
                status="failed",
                error=result.reason,
                meta={"attempts": result.attempts},
                **common,
            )
            for a in req.asks
        ]
    raw = result.texts[0]
    meta = _usage(result)
    if config.mode == "logprobs":
        ask = req.asks[0]
        parsed = parse_choice(raw, ask.options)
        probs = option_probabilities(result.top_logprobs or [], ask.options)
        probabilities = None if probs is None else {ask.to_value[o]: v for o, v in probs.items()}
        answers = {ask.key: parsed}
        rationale = None
    else:
        rationale, answers = parse_questions(raw, req.asks)
        probabilities = None
    out = []
    for i, ask in enumerate(req.asks):
        got = answers[ask.key]
        # a request's tokens are counted once, on its first label
        mine = meta if i == 0 else {"attempts": result.attempts, "endpoint": result.endpoint}
        out.append(
            LabelIn(
                value=None if got.option is None else ask.to_value[got.option],
                question=ask.key,
                status="failed" if got.option is None else "submitted",
                raw_output=raw,
                error=got.error,
                rationale=rationale if got.option is not None else None,
                probabilities=probabilities,
                duration_ms=result.latency_ms,
                meta=mine,
                **common,
            )
        )
    return out


def to_label(p: _Plan, config: JudgeConfig, req: JudgeRequest, result: Completion | GiveUp) -> LabelIn:
    """A completion (or a give-up) of a one-question template as a label: submitted with its verdict,
    or failed with the raw output and the reason."""
    common = _label_keys(p, req)
    if isinstance(result, GiveUp):
        return LabelIn(value=None, status="failed", error=result.reason, meta={"attempts": result.attempts}, **common)
    raw = result.texts[0] if len(result.texts) == 1 else "\n---\n".join(result.texts)
    meta = _usage(result)
    if config.mode == "logprobs":
        parsed = parse_choice(result.texts[0], req.options)
        probs = option_probabilities(result.top_logprobs or [], req.options)
        probabilities = None
        if probs is not None:
            probabilities = {req.to_value[o]: v for o, v in probs.items()}
            if not p.pairwise:
                probabilities["expected"] = sum(float(o) * v for o, v in probs.items())
        if parsed.option is None:
            return LabelIn(
                value=None,
                status="failed",
                raw_output=raw,
                error=parsed.error,
                duration_ms=result.latency_ms,
                probabilities=probabilities,
                meta=meta,
                **common,
            )
        return LabelIn(
            value=req.to_value[parsed.option],
            raw_output=raw,
            probabilities=probabilities,
            duration_ms=result.latency_ms,
            meta=meta,
            **common,
        )
    samples = [parse_reasoning(t, req.options) for t in result.texts]
    good = [s for s in samples if s.option is not None]
    if not good:
        return LabelIn(
            value=None,
            status="failed",
            raw_output=raw,
            error=samples[0].error,
            duration_ms=result.latency_ms,
            meta=meta,
            **common,
        )
    values = [req.to_value[s.option] for s in good if s.option is not None]
    if len(result.texts) > 1:
        meta["samples"] = values
        meta["unparsed_samples"] = len(samples) - len(good)
    value = majority(values, pairwise=p.pairwise)
    return LabelIn(
        value=value, raw_output=raw, rationale=good[0].rationale, duration_ms=result.latency_ms, meta=meta, **common
    )


def _progress_bar(total: int, enabled: bool) -> tqdm[Any]:
    """The terminal progress bar (tqdm on stderr): judgments done, failures in the postfix."""
    return tqdm(total=total, disable=not enabled or total == 0, desc="judging", unit="label", file=sys.stderr)


def _write(services: Services, p: _Plan, labels: list[LabelIn], tokens: tuple[int, int]) -> bool:
    """Write a batch and update the run row; True when someone asked the run to stop."""
    with services.session() as session:
        submit_labels(session, labels, changed_by=p.judge)
        run = session.get(JudgeRun, p.run_id)
        if run is None:
            return False
        run.n_done += sum(1 for lab in labels if lab.status == "submitted")
        run.n_failed += sum(1 for lab in labels if lab.status == "failed")
        run.prompt_tokens += tokens[0]
        run.completion_tokens += tokens[1]
        run.updated_at = utcnow()
        return run.status == "cancelling"


def _finish(services: Services, run_id: int, status: str, error: str | None = None) -> None:
    try:
        with services.session() as session:
            run = session.get(JudgeRun, run_id)
            if run is not None:
                run.status, run.error, run.finished_at = status, error, utcnow()
    except SQLAlchemyError:
        pass  # the database is the thing that failed; the run row stays 'running' and says so by its age


async def run_judge_async(
    services: Services,
    *,
    task: str,
    config: JudgeConfig,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    cancel: asyncio.Event | None = None,
    planned: _Plan | None = None,
) -> RunSummary:
    """Run the plan (``planned``, or a new one): every error after the run row exists ends the row as
    ``failed`` with the reason, so the runs table never shows a dead run as running."""
    p = planned or plan(services, task, config, limit=limit, retry_failed=retry_failed)
    cancel = cancel or asyncio.Event()
    start = time.perf_counter()
    bar = _progress_bar(p.n_labels, progress)
    counts = {"done": 0, "failed": 0, "pt": 0, "ct": 0}
    pending: list[LabelIn] = []

    async def flush() -> None:
        nonlocal pending
        if not pending:
            return
        batch, pending = pending, []
        tokens = (
            sum((lab.meta or {}).get("prompt_tokens", 0) for lab in batch),
            sum((lab.meta or {}).get("completion_tokens", 0) for lab in batch),
        )
        try:
            if await asyncio.to_thread(_write, services, p, batch, tokens):
                cancel.set()  # an admin asked this run to stop (judge_runs.status = 'cancelling')
        except SQLAlchemyError as exc:
            raise RunnerError(
                f"the database stopped answering during judge run {p.run_id}: {type(exc).__name__}",
                fix="bring the database back and rerun the same command: finished labels are kept, the rest is redone",
            ) from exc
        for lab in batch:
            counts["done" if lab.status == "submitted" else "failed"] += 1
        counts["pt"] += tokens[0]
        counts["ct"] += tokens[1]
        bar.update(len(batch))
        bar.set_postfix(failed=counts["failed"], refresh=False)

    backend: Backend | None = None
    try:
        backend = create_backend(config)  # e.g. an API key variable that is not set: the run row says so
        if backend.batched:
            real = [r for r in p.requests if r.error is None]
            answers = await backend.complete_batch(real)
            by_req = dict(zip((id(r) for r in real), answers, strict=True))
            for req in p.requests:
                result = by_req.get(id(req)) or GiveUp(req.error or "no output", 0)
                pending.extend(to_labels(p, config, req, result))
            await flush()
        else:
            queue: asyncio.Queue[JudgeRequest] = asyncio.Queue()
            for req in p.requests:
                queue.put_nowait(req)
            done_event = asyncio.Event()

            async def worker() -> None:
                while not queue.empty():
                    if cancel.is_set():
                        return
                    req = queue.get_nowait()
                    if req.error is not None:
                        result: Completion | GiveUp = GiveUp(req.error, 0)
                    else:
                        try:
                            result = await backend.complete(req)
                        except GiveUp as exc:
                            result = exc
                    pending.extend(to_labels(p, config, req, result))

            async def flusher() -> None:
                # stops when told, never by cancellation: a batch being written is always counted
                while not done_event.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(done_event.wait(), FLUSH_EVERY_S)
                    await flush()

            flush_task = asyncio.create_task(flusher())
            try:
                workers = [asyncio.create_task(worker()) for _ in range(min(backend.slots, max(len(p.requests), 1)))]
                waiter = asyncio.gather(*workers)
                while not waiter.done():
                    watched: list[asyncio.Future[Any]] = [waiter, flush_task]
                    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                    if flush_task.done() and flush_task.exception() is not None:
                        waiter.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await waiter  # retrieved, so asyncio does not print it as never retrieved
                        raise flush_task.exception()  # type: ignore[misc]
                await waiter
            finally:
                done_event.set()
            await flush_task  # re-raises a database error from the last write
            await flush()
    except (asyncio.CancelledError, KeyboardInterrupt):
        _finish(services, p.run_id, "cancelled", "interrupted")
        raise
    except Exception as exc:
        # our own errors (a RunnerError, a ConfigError) already say what and how to fix; others get their type
        _finish(
            services, p.run_id, "failed", str(exc) if isinstance(exc, JudgelabError) else f"{type(exc).__name__}: {exc}"
        )
        raise
    finally:
        bar.close()
        if backend is not None:
            await backend.close()
    status = "cancelled" if cancel.is_set() else "finished"
    _finish(services, p.run_id, status)
    return RunSummary(
        p.run_id,
        p.judge,
        p.n_labels,
        counts["done"],
        counts["failed"],
        p.skipped,
        time.perf_counter() - start,
        counts["pt"],
        counts["ct"],
        backend.retries,
    )


def run_judge(
    services: Services,
    *,
    task: str,
    config: JudgeConfig,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    planned: _Plan | None = None,
) -> RunSummary:
    return asyncio.run(
        run_judge_async(
            services,
            task=task,
            config=config,
            limit=limit,
            retry_failed=retry_failed,
            progress=progress,
            planned=planned,
        )
    )


def record_failed_start(services: Services, task_name: str, config: JudgeConfig, error: str) -> int | None:
    """A run that could not start (its plan failed) still gets a row in ``judge_runs``, ``failed`` with
    the reason, so whoever started it from the page sees why in the runs table. None when the task
    itself does not exist."""
    with services.session() as session:
        task = session.scalars(select(Task).where(Task.name == task_name)).first()
        if task is None:
            return None
        try:
            annotator = judge_annotator(session, config)
        except JudgelabError:
            return None  # a name taken by another judge: nothing to file the failure under
        run = JudgeRun(annotator_id=annotator.id, task_id=task.id, status="failed", error=error, finished_at=utcnow())
        session.add(run)
        session.flush()
        return run.id
