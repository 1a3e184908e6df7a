"""What a password must be: long enough for the role (12 characters for an admin, 8 otherwise), not
blank, not a common password (``data/common_passwords.txt``, also with digits or punctuation added
at the end), not the user's own name, and not one character repeated."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from annotation.errors import JudgelabError

MIN_CHARS = 8
MIN_ADMIN_CHARS = 12


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("annotation").joinpath("data/common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(name: str, password: str, *, role: str) -> None:
    """Raise :class:`JudgelabError` (what is wrong, and the fix) unless ``password`` is acceptable.

    >>> check_password("ann", "correct horse battery", role="admin")
    >>> check_password("ann", "password123!", role="annotator")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    annotation.errors.JudgelabError: the password for 'ann' is a common password ...
    """
    minimum = MIN_ADMIN_CHARS if role == "admin" else MIN_CHARS
    fix = f"use at least {minimum} characters that are not a common password, or let judgelab generate one"
    if len(password) < minimum:
        raise JudgelabError(
            f"the password for {name!r} is too short ({len(password)} characters; {role}s need {minimum})", fix=fix
        )
    if not password.strip() or len(set(password)) <= 2:
        raise JudgelabError(f"the password for {name!r} is blank or one character repeated", fix=fix)
    lowered = password.lower()
    stripped = lowered.rstrip("0123456789!@#$%^&*()-_=+.,;:?/ ")
    if lowered in common_passwords() or stripped in common_passwords():
        raise JudgelabError(
            f"the password for {name!r} is a common password (or one with digits or punctuation added)", fix=fix
        )
    if len(name) >= 3 and name.lower() in lowered:
        raise JudgelabError(f"the password for {name!r} contains the user name", fix=fix)
