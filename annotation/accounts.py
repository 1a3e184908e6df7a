"""Users who log in (humans only), their roles, and argon2 password hashes. No plain password is stored."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotation.catalog import ensure_annotator
from annotation.errors import JudgelabError
from annotation.models import ROLES, Annotator, User

_HASHER = PasswordHasher()
MIN_PASSWORD_CHARS = 8


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
    if len(password) < MIN_PASSWORD_CHARS:
        raise JudgelabError(
            f"the password for {name!r} is too short ({len(password)} characters)",
            fix=f"use at least {MIN_PASSWORD_CHARS} characters, or let judgelab generate one",
        )
    annotator = ensure_annotator(session, name, kind="human")
    if session.get(User, annotator.id) is not None:
        raise JudgelabError(
            f"user {name!r} already exists", fix="pick another name ('judgelab users list' shows the names taken)"
        )
    session.add(User(annotator_id=annotator.id, password_hash=_HASHER.hash(password), role=role))
    session.flush()
    return Account(annotator.id, name, role)


def set_password(session: Session, name: str, password: str) -> None:
    user = _user(session, name)
    if len(password) < MIN_PASSWORD_CHARS:
        raise JudgelabError(
            f"password too short ({len(password)} characters)", fix=f"use at least {MIN_PASSWORD_CHARS}"
        )
    user.password_hash = _HASHER.hash(password)


def authenticate(session: Session, name: str, password: str) -> Account | None:
    """The account when ``password`` is right, else None (same answer for unknown user and bad password)."""
    row = session.execute(
        select(User, Annotator).join(Annotator, User.annotator_id == Annotator.id).where(Annotator.name == name)
    ).first()
    if row is None:
        # spend the same time as a real check so user names cannot be probed by timing
        with contextlib.suppress(VerificationError, InvalidHashError):
            _HASHER.verify(_dummy_hash(), password)
        return None
    user, annotator = row
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return Account(annotator.id, annotator.name, user.role)


def get_account(session: Session, name: str) -> Account | None:
    row = session.execute(
        select(User, Annotator).join(Annotator, User.annotator_id == Annotator.id).where(Annotator.name == name)
    ).first()
    if row is None:
        return None
    user, annotator = row
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
