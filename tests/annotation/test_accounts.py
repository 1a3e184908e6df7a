"""Accounts: argon2 hashes only, no plain password stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from annotation.accounts import add_user, authenticate
from annotation.errors import JudgelabError
from annotation.models import User
from annotation.services import Services


def test_password_is_stored_as_argon2_hash_only(services: Services) -> None:
    with services.session() as s:
        add_user(s, "ana", role="annotator", password="correct horse battery")
    with services.session() as s:
        stored = s.scalars(select(User.password_hash)).one()
        assert stored.startswith("$argon2id$")
        dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM users")) for v in row)
        dump += " ".join(str(v) for row in s.execute(text("SELECT * FROM annotators")) for v in row)
    assert "correct horse battery" not in dump
    with services.session() as s:
        account = authenticate(s, "ana", "correct horse battery")
        assert account is not None and account.role == "annotator"
        assert authenticate(s, "ana", "wrong password") is None
        assert authenticate(s, "nobody", "correct horse battery") is None


def test_bad_role_short_password_and_duplicate(services: Services) -> None:
    with services.session() as s:
        with pytest.raises(JudgelabError, match="unknown role 'boss'"):
            add_user(s, "x", role="boss", password="long enough")
        with pytest.raises(JudgelabError, match="too short"):
            add_user(s, "x", role="admin", password="short")
        with pytest.raises(JudgelabError, match="admins need 12"):  # long enough for an annotator only
            add_user(s, "x", role="admin", password="long enough")
        add_user(s, "y", role="admin", password="long enough, really")
        with pytest.raises(JudgelabError, match="already exists"):
            add_user(s, "y", role="admin", password="long enough, really")
