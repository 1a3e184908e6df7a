"""The login check Gradio calls, off the event loop and rate-limited.

Gradio awaits the auth callable inside its login route; a plain function would run argon2 (100-200
ms) and the database read on the event loop, and 200 wrong passwords stalled every logged-in page.
So :class:`LoginGuard` is async: the password check runs in a small thread pool of its own (at most
``workers`` at once; the rest wait without blocking the loop), the user is read without the
database's write lock, and failed attempts are limited per client address and per user name with
an exponential backoff: after ``free_failures`` failures the next attempt within the backoff is
refused at once, without hashing. Every attempt is logged (user, address, outcome).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from app.guard import CLIENT_ADDRESS

log = logging.getLogger("judgelab.login")


@dataclass
class Backoff:
    """Failures per key (an address or a user name) and until when the key is refused."""

    free_failures: int = 5
    base_s: float = 1.0
    max_s: float = 300.0
    failures: dict[str, int] = field(default_factory=dict)
    until: dict[str, float] = field(default_factory=dict)

    def wait_s(self, key: str, now: float) -> float:
        return max(0.0, self.until.get(key, 0.0) - now)

    def failed(self, key: str, now: float) -> None:
        n = self.failures.get(key, 0) + 1
        self.failures[key] = n
        if n >= self.free_failures:
            self.until[key] = now + min(self.max_s, self.base_s * 2 ** (n - self.free_failures))

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)
        self.until.pop(key, None)


class LoginGuard:
    """``await guard(username, password)`` -> bool, for ``gr.Blocks.launch(auth=...)``.
    ``check(username, password)`` is the blocking check (argon2 over the users table)."""

    def __init__(self, check: Callable[[str, str], bool], *, workers: int = 1, free_failures: int = 5) -> None:
        self.check = check
        # one worker: argon2 takes a core for 100-200 ms; logins queue here, never the page's events
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="judgelab-login")
        self.by_address = Backoff(free_failures=free_failures * 2)  # an office behind one address
        self.by_user = Backoff(free_failures=free_failures)

    async def __call__(self, username: str, password: str) -> bool:
        address = CLIENT_ADDRESS.get()
        now = time.monotonic()
        wait = max(self.by_address.wait_s(address, now), self.by_user.wait_s(username, now))
        if wait > 0:
            log.warning("login refused for %r from %s: too many failures, retry in %.0f s", username, address, wait)
            return False
        ok = await asyncio.get_running_loop().run_in_executor(self.pool, self.check, username, password)
        now = time.monotonic()
        if ok:
            self.by_address.succeeded(address)
            self.by_user.succeeded(username)
            log.info("login of %r from %s", username, address)
        else:
            self.by_address.failed(address, now)
            self.by_user.failed(username, now)
            log.warning("failed login for %r from %s", username, address)
        return bool(ok)
