"""Users who log in (humans only), their roles, and argon2 password hashes. No plain password is stored."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation.catalog import ensure_annotator
from annotation.errors import JudgelabError
from annotation.models import ROLES, Annotator, User, utcnow
from annotation.password_policy import check_password

_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Account:
    annotator_id: int
    name: str
    role: str


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(session: Session, name: str, *, role: str, password: str) -> Account:
    """Create a human annotator with a login. The password is kept only as an argon2 hash."""
    if role not in ROLES:
        raise JudgelabError(f"unknown role {role!r}", fix=f"use one of {list(ROLES)}")
    check_password(name, password, role=role)
    annotator = ensure_annotator(session, name, kind="human")
    if session.get(User, annotator.id) is not None:
        raise JudgelabError(
            f"user {name!r} already exists", fix="pick another name ('judgelab users list' shows the names taken)"
        )
    session.add(User(annotator_id=annotator.id, password_hash=_HASHER.hash(password), role=role))
    session.flush()
    return Account(annotator.id, name, role)


def set_password(session: Session, name: str, password: str) -> None:
    """A new password; every session of the user ends."""
    user = _user(session, name)
    check_password(name, password, role=user.role)
    user.password_hash = _HASHER.hash(password)
    user.sessions_valid_after = utcnow()


def disable_user(session: Session, name: str, *, disabled: bool = True) -> None:
    """Disable (or enable again) a login; disabling ends every session of the user."""
    user = _user(session, name)
    user.disabled = disabled
    if disabled:
        user.sessions_valid_after = utcnow()


def remove_user(session: Session, name: str) -> None:
    """Remove a login (the annotator and its labels stay); every session of the user ends with it."""
    session.delete(_user(session, name))
    session.flush()


@dataclass(frozen=True)
class LoginRecord:
    """What the login check and the session check read: no write lock needed."""

    annotator_id: int
    name: str
    role: str
    password_hash: str
    disabled: bool
    sessions_valid_after: float | None  # POSIX seconds


def login_record(session: Session, name: str) -> LoginRecord | None:
    row = session.execute(
        select(Annotator.id, Annotator.name, User.role, User.password_hash, User.disabled, User.sessions_valid_after)
        .join(Annotator, User.annotator_id == Annotator.id)
        .where(Annotator.name == name)
    ).first()
    if row is None:
        return None
    after = row.sessions_valid_after
    stamp = after.replace(tzinfo=after.tzinfo or UTC).timestamp() if after is not None else None
    return LoginRecord(row.id, row.name, row.role, row.password_hash, bool(row.disabled), stamp)


def verify(record: LoginRecord | None, password: str) -> Account | None:
    """The account when ``password`` is right and the login is enabled, else None; an unknown user
    costs the same time as a known one (user names cannot be probed by timing)."""
    if record is None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            _HASHER.verify(_dummy_hash(), password)
        return None
    try:
        _HASHER.verify(record.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if record.disabled:
        return None
    return Account(record.annotator_id, record.name, record.role)


def authenticate(session: Session, name: str, password: str) -> Account | None:
    """The account when ``password`` is right, else None (same answer for unknown user and bad password)."""
    return verify(login_record(session, name), password)


HELD_ROWS = "judgelab_held_rows"  # Session.info key: rows kept loaded for the session's life


def get_account(session: Session, name: str) -> Account | None:
    row = session.execute(
        select(User, Annotator).join(Annotator, User.annotator_id == Annotator.id).where(Annotator.name == name)
    ).first()
    if row is None:
        return None
    user, annotator = row
    # held for the session's life: its identity map holds rows weakly, and the write path's human
    # check (queue_counts.humans) reads the annotator from there instead of asking again
    session.info.setdefault(HELD_ROWS, []).append(annotator)
    return Account(annotator.id, annotator.name, user.role)


def list_accounts(session: Session) -> list[Account]:
    rows = session.execute(
        select(User, Annotator).join(Annotator, User.annotator_id == Annotator.id).order_by(Annotator.name)
    ).all()
    return [Account(a.id, a.name, u.role) for u, a in rows]


def _user(session: Session, name: str) -> User:
    account = get_account(session, name)
    if account is None:
        raise JudgelabError(f"no user named {name!r}", fix="create it with 'judgelab users add NAME --role ROLE'")
    user = session.get(User, account.annotator_id)
    assert user is not None
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("judgelab-timing-equalizer")
