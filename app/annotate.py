"""The annotator's page, as plain functions of (services, user name, ...): no Gradio here, so the
handlers are tested without a browser. app/ui.py wires them to Gradio events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from annotation.accounts import Account, get_account
from annotation.assignment import Progress, may_label, next_item_and_progress, presented_order, progress, release
from annotation.catalog import get_task
from annotation.errors import AccessError, LabelError
from annotation.models import Item, Label, Task
from annotation.schema import (
    MAX_CHECKLIST,
    MAX_QUESTIONS,
    PairwiseSchema,
    Question,
    TaskSchema,
    checklist_entries,
    entry_key,
    parse_schema,
)
from annotation.services import Services
from annotation.store import LabelIn, submit_labels
from app.render import conversation_markdown, safe_markdown
from contracts.vocab import ANNOTATE_ROLES, PAIRWISE_VALUES, RESEARCH_ROLES, SELECTION_QUEUE, TIE_VALUES

__all__ = ["ANNOTATE_ROLES", "RESEARCH_ROLES"]
PAIRWISE_TEXT = {"left": "Left is better", "right": "Right is better", "tie": "Tie", "bothbad": "Both are bad"}


def require(services: Services, username: str | None, roles: frozenset[str]) -> Account:
    """The logged-in account, if its role is allowed; the user always comes from the session."""
    with services.session() as session:
        return require_in(session, username, roles)


def require_in(session: Any, username: str | None, roles: frozenset[str]) -> Account:
    """``require`` inside a session the handler already holds."""
    if not username:
        raise AccessError("not logged in", fix="log in first")
    account = get_account(session, username)
    if account is None or account.role not in roles:
        raise AccessError(f"user {username!r} may not do this", fix="ask an admin for the right role")
    return account


# the answer rows the page has: one per question and per checklist entry of an item (the first is the
# "choice" radio, the others follow it)
ANSWER_SLOTS = MAX_QUESTIONS + MAX_CHECKLIST


@dataclass
class AnswerSlot:
    """One answer row on the page: a question, or one entry of a checklist question."""

    key: str  # the label's question (``NAME`` or ``NAME.K``)
    label: str  # what the row says above its buttons
    buttons: list[tuple[str, str]]  # (what a button says, what it sends), in key order 1..n
    pairwise: bool = False  # a pairwise question: the buttons say left/right, the value is A/B
    required: bool = True
    current: str | None = None  # the annotator's answer on screen (when going back)

    @property
    def choices(self) -> list[str]:
        return [value for _, value in self.buttons]


def answer_slots(schema: TaskSchema, checklist: dict[str, Any] | None) -> list[AnswerSlot]:
    """The answer rows of an item: each question in order; a checklist question as one row per entry
    of the item's checklist (none when the item has no checklist yet)."""
    slots: list[AnswerSlot] = []
    single = schema.single_question
    for q in schema.questions:
        if q.kind == "checklist":
            for k, entry in enumerate(checklist_entries(checklist), start=1):
                slots.append(
                    AnswerSlot(
                        key=entry_key(q.name, k),
                        label=f"{k}. {entry}",
                        buttons=[(c, c) for c in q.choices],
                        required=q.required,
                    )
                )
            continue
        shown = q.text or q.name
        label = shown if q.required or single else f"{shown} (optional)"
        slots.append(
            AnswerSlot(
                key=q.name,
                label=label,
                buttons=_buttons(q),
                pairwise=q.kind == "pairwise",
                required=q.required,
            )
        )
    return slots[:ANSWER_SLOTS]


def _buttons(q: Question) -> list[tuple[str, str]]:
    if isinstance(q, PairwiseSchema):
        return [(c, c) for c in pairwise_choices(q)]
    return [(q.button(c), c) for c in q.choices]


@dataclass
class ItemViewModel:
    task: str
    item_id: int | None
    order: str = "ab"
    prompt_md: str = ""
    left_md: str = ""
    right_md: str = ""
    reference_md: str = ""
    choices: list[str] = field(default_factory=list)  # what the buttons send, in key order 1..n
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (what a button says, what it sends)
    current: str | None = None  # the annotator's current answer (when going back)
    progress: str = ""
    message: str = ""
    pairwise: bool = True
    ask_rationale: bool = False
    ask_confidence: bool = False
    confidence_choices: list[str] = field(default_factory=list)  # the task's declared confidence scale
    shown_at: float = 0.0
    user: str | None = None  # whose view this is: the tab's state is theirs only
    waiting: bool = False  # a researcher's or admin's page before they open the Annotate tab: no item served
    summary: str = ""  # the end-of-queue screen's counts
    slots: list[AnswerSlot] = field(default_factory=list)  # every answer row; the first is choices/current
    several: bool = False  # the task asks several questions (or a checklist): rows are labeled

    @property
    def keys(self) -> str:
        """The answer keys of this task, e.g. "1-5" (the page maps 1-9 and 0 to the first ten buttons)."""
        return key_range(len(self.choices))


def key_range(n: int) -> str:
    """The number keys that choose among ``n`` answer buttons.

    >>> key_range(4), key_range(10), key_range(11)
    ('1-4', '1-9, 0', '1-9, 0 (the first ten; click the rest)')
    """
    if n <= 9:
        return f"1-{n}" if n > 1 else "1"
    return "1-9, 0" if n == 10 else "1-9, 0 (the first ten; click the rest)"


def pairwise_choices(schema: PairwiseSchema) -> list[str]:
    keys = {"A": "left", "B": "right", "tie": "tie", "bothbad": "bothbad"}
    return [PAIRWISE_TEXT[keys[c]] for c in PAIRWISE_VALUES if c in schema.choices]


def choice_to_value(choice: str, order: str) -> str:
    """A button's text to the stored value in the item's A/B frame."""
    side = {v: k for k, v in PAIRWISE_TEXT.items()}.get(choice)
    if side is None:
        return choice  # a scale value
    if side in TIE_VALUES:
        return side
    left_is_a = order == "ab"
    return ("A" if left_is_a else "B") if side == "left" else ("B" if left_is_a else "A")


def value_to_choice(value: str | None, order: str) -> str | None:
    if value is None:
        return None
    if value in TIE_VALUES:
        return PAIRWISE_TEXT[value]
    if value in ("A", "B"):
        left = (value == "A") == (order == "ab")
        return PAIRWISE_TEXT["left" if left else "right"]
    return value


# What the page sends, read without Gradio's preprocessing (the item events skip it, see app/ui.py):
# the page sends these types; an API caller may send anything JSON, and is told which field is wrong.
CONFIDENCES = tuple(TaskSchema(questions=[PairwiseSchema()]).confidence_choices)  # the default scale's buttons (1-5)


def item_id_from_page(value: object) -> int | None:
    """The id of the item on screen (a hidden number on the page); None when none is shown."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
        if not number.is_integer():
            raise ValueError
    except (ValueError, OverflowError):
        raise LabelError(
            "field 'item': not an item id", value=value, fix="send the id of the item on screen (reload the page)"
        ) from None
    return int(number)


def answer_from_page(value: object) -> str | None:
    """The chosen answer button's text (a scale's value may come as a number)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LabelError("field 'answer': must be the text of an answer button", value=value)


SKIP_REASON_CHARS = 500


def text_from_page(field: str, value: object, *, limit: int) -> str:
    """Text the page sent, at most ``limit`` characters (the rationale: ``JUDGELAB_MAX_RATIONALE_CHARS``;
    a skip reason: 500): longer text is refused with the count, never stored."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LabelError(f"field '{field}': must be text", value=value)
    if len(value) > limit:
        raise LabelError(
            f"field '{field}': {len(value):,} characters, over the limit of {limit:,}",
            fix=f"shorten the {field} to at most {limit:,} characters",
        )
    return value


def confidence_from_page(value: object) -> float | None:
    """A confidence button's text as a number; the write path checks it against the task's declared
    confidence scale."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        raise LabelError(
            "field 'confidence': must be one of the confidence buttons", value=value, fix="pick a confidence"
        ) from None
    return number


def task_names(services: Services, username: str | None, *, labeled: bool = False) -> list[str]:
    """The tasks by name; ``labeled``: only those with a submitted label (what a dashboard can show)."""
    require(services, username, ANNOTATE_ROLES)
    stmt = select(Task.name).order_by(Task.name)
    if labeled:
        has = select(Label.id).join(Item, Label.item_id == Item.id)
        stmt = stmt.where(has.where(Item.task_id == Task.id, Label.status == "submitted").exists())
    with services.session() as session:
        return list(session.scalars(stmt))


def guidelines(services: Services, username: str | None, task: str) -> str:
    require(services, username, ANNOTATE_ROLES)
    with services.session() as session:
        text = get_task(session, task).instructions
    return safe_markdown(text) if text else "*This task has no written guidelines.*"


def _view(
    session: Any,
    task: Task,
    account: Account,
    item_id: int | None,
    message: str = "",
    progress_now: Progress | None = None,
    labeled_by_me: bool = True,
) -> ItemViewModel:
    schema = parse_schema(task.label_schema)
    pairwise = task.protocol == "pairwise"
    view = ItemViewModel(
        task=task.name,
        item_id=item_id,
        message=message,
        user=account.name,
        pairwise=pairwise,
        ask_rationale=schema.ask_rationale,
        ask_confidence=schema.ask_confidence,
        confidence_choices=schema.confidence_choices,
    )
    item = session.get(Item, item_id) if item_id is not None else None
    assert item is not None or item_id is None
    view.several = not schema.single_question or schema.first.kind == "checklist"
    view.slots = answer_slots(schema, item.checklist if item is not None else None)
    _first_slot(view)
    view.progress = (progress_now or progress(session, task, account.annotator_id)).line()
    if item is None:
        view.message = message or "Nothing left for you in this task. Thank you!"
        view.summary = _done_summary(session, task, account)
        return view
    order = presented_order(account.annotator_id, item.id)
    view.order = order
    conv = item.conversation or {}
    turn = conv.get("turn")
    prompt_msgs = conv.get("prompt")
    if isinstance(conv.get("a"), list) and len(conv["a"]) > 2:
        # each side's whole conversation, with the judged turn marked
        view.prompt_md = safe_markdown(item.prompt) + f"\n\n*(turn {turn} of a conversation: see each side below)*"
        a_md = conversation_markdown(conv["a"], turn or None)
        b_md = conversation_markdown(conv["b"], turn or None) if isinstance(conv.get("b"), list) else ""
    else:
        view.prompt_md = (
            conversation_markdown(prompt_msgs) if isinstance(prompt_msgs, list) else safe_markdown(item.prompt)
        )
        a_md, b_md = safe_markdown(item.response_a), safe_markdown(item.response_b)
    if not pairwise:
        view.left_md, view.right_md = a_md, ""
    else:
        view.left_md, view.right_md = (a_md, b_md) if order == "ab" else (b_md, a_md)
    view.reference_md = safe_markdown(item.reference) if item.reference else ""
    mine = (
        session.scalars(
            select(Label).where(
                Label.item_id == item.id, Label.annotator_id == account.annotator_id, Label.replicate == 0
            )
        ).all()
        if labeled_by_me
        else []
    )
    answers = {lab.question: lab.value for lab in mine if lab.status == "submitted"}
    for slot in view.slots:
        value = answers.get(slot.key)
        slot.current = value_to_choice(value, order) if slot.pairwise else value
    _first_slot(view)
    view.shown_at = time.time()
    return view


def _first_slot(view: ItemViewModel) -> None:
    """The first answer row is the page's main radio (``choice``): its buttons, keys and answer."""
    first = view.slots[0] if view.slots else None
    view.buttons = first.buttons if first else []
    view.choices = first.choices if first else []
    view.current = first.current if first else None


def _next_view(session: Any, task: Task, account: Account, *, sweep: bool = False) -> ItemViewModel:
    # next_item serves only items the annotator has not labeled: no current answer to look up
    item_id, progress_now = next_item_and_progress(session, task, account.annotator_id, sweep=sweep)
    return _view(session, task, account, item_id, progress_now=progress_now, labeled_by_me=False)


def _overlap_reached(session: Any, task: Task, account: Account) -> ItemViewModel:
    view = _next_view(session, task, account)
    view.message = "Other annotators completed that item while it was open; here is the next one."
    return view


def open_task(services: Services, username: str | None, task: str) -> ItemViewModel:
    def work(session: Any) -> ItemViewModel:
        account = require_in(session, username, ANNOTATE_ROLES)
        return _next_view(session, get_task(session, task), account, sweep=True)

    return services.transaction(work)


def _task_item(session: Any, task: str, item_id: int) -> tuple[Task, Item]:
    """The task and the item, refusing an item id from another task (ids come from the client). On
    PostgreSQL the read takes the task row's lock (the count writers' turn, which the label write
    takes anyway) before ``may_label`` locks the item: every human writer locks the task before its
    items, so a walk that waits for an item held by a writer never waits for one waiting on it."""
    found = session.execute(
        select(Task, Item)
        .join(Item, Item.task_id == Task.id)
        .where(Task.name == task, Item.id == int(item_id))
        .with_for_update(of=Task, key_share=True)
    ).first()
    if found is None:
        get_task(session, task)  # names the known tasks when this one does not exist
        raise AccessError("this item is not part of the task", fix="reload the page")
    return found[0], found[1]


def submit(
    services: Services,
    username: str | None,
    task: str,
    item_id: int | None,
    choice: str | None,
    *,
    rationale: str | None = None,
    confidence: object = None,
    shown_at: float | None = None,
    more: list[str | None] | None = None,
) -> ItemViewModel:
    """Store the annotator's answers for ``item_id`` and return the next item. ``choice`` answers the
    first row of the item, ``more`` the rows after it (further questions, checklist entries), in the
    order of :func:`answer_slots`; an optional question left blank stores nothing."""
    if item_id is None:
        return open_task(services, username, task)
    conf = confidence_from_page(confidence)
    duration = int((time.time() - shown_at) * 1000) if shown_at else None

    def work(session: Any) -> ItemViewModel:
        account = require_in(session, username, ANNOTATE_ROLES)
        task_row, item = _task_item(session, task, item_id)
        if not may_label(session, task_row, item.id, account.annotator_id):
            return _overlap_reached(session, task_row, account)
        slots = answer_slots(parse_schema(task_row.label_schema), item.checklist)
        given = [choice, *(more or [])]
        missing = [s for i, s in enumerate(slots) if s.required and not (given[i] if i < len(given) else None)]
        if missing:
            view = _view(session, task_row, account, item.id)
            for slot, answer in zip(view.slots, given, strict=False):
                slot.current = answer or None  # keep what was picked on screen
            _first_slot(view)
            view.message = (
                f"Pick an answer first (keys {view.keys})."
                if len(slots) == 1
                else f"Answer every required question first: {', '.join(s.label for s in missing[:3])}."
            )
            return view
        if not slots:
            view = _view(session, task_row, account, item.id)
            view.message = "This item has nothing to answer yet (its checklist is not written): skip it."
            return view
        order = presented_order(account.annotator_id, item.id)
        labels = [
            LabelIn(
                item.id,
                account.annotator_id,
                choice_to_value(answer, order) if slot.pairwise else str(answer),
                question=slot.key,
                presented_order=order,
                rationale=(rationale or None),
                confidence=conf,
                duration_ms=duration,
                meta={"selection": SELECTION_QUEUE},
            )
            for slot, answer in zip(slots, given, strict=False)
            if answer
        ]
        return _store_and_go_on(session, task_row, account, labels, "Saved.")

    return services.transaction(work)


def _mine(task: Task, annotator_id: int, *columns: Any) -> Any:
    """A select of ``columns`` over this annotator's labels (answered or skipped) in the task."""
    return (
        select(*columns)
        .join(Item, Label.item_id == Item.id)
        .where(Item.task_id == task.id, Label.annotator_id == annotator_id, Label.replicate == 0)
    )


def _my_items(session: Any, task: Task, annotator_id: int) -> list[int]:
    """The items this annotator labeled or skipped in the task, in the order they first answered."""
    rows = session.execute(_mine(task, annotator_id, Label.item_id).order_by(Label.created_at, Label.id)).all()
    return list(dict.fromkeys(r.item_id for r in rows))


def _store_and_go_on(session: Any, task: Task, account: Account, labels: list[LabelIn], done: str) -> ItemViewModel:
    """Write the annotator's answer (the one write path), release the item's reservation, and show
    what follows: after a change to an earlier answer (reached with Back or the history: the write
    found the label there already), the item answered after it, and so on forward; after a first
    answer, the next new item. The history is read only for a change."""
    written = submit_labels(session, labels, changed_by=account.name, label_ids=False)
    item_id = labels[0].item_id
    release(session, item_id, account.annotator_id)
    if written.inserted < len(labels):
        answered = _my_items(session, task, account.annotator_id)
        at = answered.index(item_id) if item_id in answered else len(answered)
        if at + 1 < len(answered):
            return _view(
                session, task, account, answered[at + 1], message=f"{done} Next in your history (Back goes back)."
            )
    view = _next_view(session, task, account)
    if view.item_id is not None:
        view.message = done
    return view


def _done_summary(session: Any, task: Task, account: Account) -> str:
    counts = dict.fromkeys(("submitted", "skipped"), 0)
    per_item = dict(session.execute(_mine(task, account.annotator_id, Label.item_id, Label.status)).all())
    for status in per_item.values():  # an item of several questions counts once
        counts[status] = counts.get(status, 0) + 1
    return (
        f"You answered {counts['submitted']} and skipped {counts['skipped']} items of '{task.name}'. "
        "To review or change an answer, open your history below (skipped items too)."
    )


def history(services: Services, username: str | None, task: str) -> list[tuple[str, int]]:
    """This annotator's answered and skipped items of the task, newest first, as (what the list shows,
    item id): the number in their order, the start of the prompt, and their answer."""
    with services.session() as session:
        account = require_in(session, username, ANNOTATE_ROLES)
        task_row = get_task(session, task)
        columns = (Label.item_id, Label.status, Label.value, Label.presented_order, Item.prompt)
        rows = session.execute(
            _mine(task_row, account.annotator_id, *columns).order_by(Label.created_at, Label.id)
        ).all()
    out = []
    pairwise = task_row.protocol == "pairwise"
    first_rows: dict[int, Any] = {}  # an item's first answer row (a task of several questions has more)
    for r in rows:
        first_rows.setdefault(r.item_id, r)
    for n, r in enumerate(first_rows.values(), start=1):
        prompt = " ".join((r.prompt or "").split())
        snippet = prompt[:60] + ("…" if len(prompt) > 60 else "")
        if r.status == "submitted":
            answer = value_to_choice(r.value, r.presented_order or "ab") if pairwise else r.value
        else:
            answer = r.status
        out.append((f"#{n} · {snippet} · {answer}", int(r.item_id)))
    return out[::-1]


def revisit(services: Services, username: str | None, task: str, item_id: int | None) -> ItemViewModel:
    """An item from the annotator's history, to change its answer (or answer a skipped one)."""
    with services.session() as session:
        account = require_in(session, username, ANNOTATE_ROLES)
        task_row = get_task(session, task)
        if item_id is None or item_id not in _my_items(session, task_row, account.annotator_id):
            raise AccessError("that item is not in your history of this task", fix="pick one from your history list")
        return _view(session, task_row, account, item_id, message="From your history: change the answer and submit.")


def role(services: Services, username: str | None) -> str:
    """The logged-in user's role (the page shows the tabs of that role)."""
    return require(services, username, ANNOTATE_ROLES).role


def waiting(task: str, username: str | None) -> ItemViewModel:
    """A researcher's or admin's Annotate tab before they open it: nothing served or reserved, so a
    page opened to read the dashboard never holds an item nor adds a "human" label by accident."""
    return ItemViewModel(task=task, item_id=None, user=username, waiting=True, message="")


def skip(services: Services, username: str | None, task: str, item_id: int | None, reason: str | None) -> ItemViewModel:
    if item_id is None:
        return open_task(services, username, task)

    def work(session: Any) -> ItemViewModel:
        account = require_in(session, username, ANNOTATE_ROLES)
        task_row, item = _task_item(session, task, item_id)
        if not may_label(session, task_row, item.id, account.annotator_id):
            return _overlap_reached(session, task_row, account)
        order = presented_order(account.annotator_id, item.id)
        slots = answer_slots(parse_schema(task_row.label_schema), item.checklist)
        label = LabelIn(
            item.id,
            account.annotator_id,
            None,
            question=slots[0].key if slots else None,  # a skip is stored on the item's first row
            status="skipped",
            presented_order=order,
            meta={"reason": (reason or "").strip()[:500] or "no reason given", "selection": SELECTION_QUEUE},
        )
        return _store_and_go_on(session, task_row, account, [label], "Skipped.")

    return services.transaction(work)


def back(services: Services, username: str | None, task: str, item_id: int | None) -> ItemViewModel:
    """The annotator's previous item (the one labeled just before ``item_id``), to change the answer."""
    account = require(services, username, ANNOTATE_ROLES)
    with services.session() as session:
        task_row = get_task(session, task)
        ordered = _my_items(session, task_row, account.annotator_id)
        if not ordered:
            # never the id the page sent: it may name any item of any task
            view = _next_view(session, task_row, account)
            view.message = "Nothing to go back to yet."
            return view
        if item_id in ordered:
            pos = ordered.index(item_id)
            target = ordered[pos - 1] if pos > 0 else ordered[0]
        else:
            target = ordered[-1]
        return _view(session, task_row, account, target, message="Going back: change the answer and submit.")


def researcher_progress(services: Services, username: str | None, task: str) -> list[list[Any]]:
    """Per annotator: labels, skips, median seconds per item, gold accuracy (researchers only)."""
    from annotation.summary import annotator_progress

    require(services, username, RESEARCH_ROLES)
    with services.session() as session:
        return annotator_progress(session, get_task(session, task))
