"""The server's front door, an ASGI middleware in front of every Gradio route (``launch`` installs it):

- a request body larger than ``max_body_bytes`` is refused with 413 before any route reads it
  (declared ``Content-Length`` or counted while it streams), so an anonymous client cannot grow the
  server's memory before the login check;
- the routes judgelab does not use are closed (404): uploads (the app has no file input; an upload
  was the first step of running code as the server), ``deep_link`` (it returned another session's
  state), the proxy, streaming, recording, run history, monitoring and Gradio's code editor;
- ``heartbeat`` and ``cancel`` need a logged-in user;
- logins are rate-limited (:class:`app.login.LoginGuard` reads the client address this middleware
  records);
- sessions expire: idle for ``idle_s`` or older than ``absolute_s``, the login token is dropped and
  the next request is asked to log in again;
- the login cookie is ``SameSite=Lax`` (Gradio sets ``None``: sent along with other sites' requests);
- every response carries a Content Security Policy: images only from the app itself (no remote
  image can tell a third party who views which item) and forms post only to the app.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = "img-src 'self' data: blob:; form-action 'self'; frame-ancestors 'self'; object-src 'none'; base-uri 'self'"
CLOSED_PREFIXES = (
    "/gradio_api/upload",
    "/gradio_api/upload_progress",
    "/upload",
    "/gradio_api/deep_link",
    "/gradio_api/proxy=",
    "/gradio_api/stream/",
    "/gradio_api/process_recording",
    "/gradio_api/run-history/",
    "/gradio_api/runs",
    "/gradio_api/vibe-",
    "/gradio_api/undo-vibe-edit",
    "/gradio_api/dev/reload",
    "/monitoring",
    "/gradio_api/mcp",
)
NEEDS_LOGIN_PREFIXES = ("/gradio_api/heartbeat/", "/gradio_api/cancel", "/gradio_api/reset")

# the client address of the request being handled: the login check (called by Gradio without the
# request) reads it to rate-limit by address
CLIENT_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar("judgelab_client_address", default="unknown")


@dataclass
class Sessions:
    """When each login token was first and last seen (in this process)."""

    idle_s: float
    absolute_s: float
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def expired(self, token: str, now: float) -> bool:
        first = self.first.setdefault(token, now)
        last = self.last.get(token, now)
        if now - last > self.idle_s or now - first > self.absolute_s:
            self.first.pop(token, None)
            self.last.pop(token, None)
            return True
        self.last[token] = now
        return False


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key:
                    out[key] = val
    return out


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class Guard:
    """The middleware (see the module). ``app`` is the Gradio app it wraps."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        idle_s: float = 8 * 3600,
        absolute_s: float = 7 * 24 * 3600,
        still_valid: Callable[[str, float], bool] | None = None,
        recheck_s: float = 5.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.sessions = Sessions(idle_s, absolute_s)
        self.still_valid = still_valid  # (user, logged in at) -> the login stands (not disabled, no new password)
        self.recheck_s = recheck_s
        self.checked: dict[str, tuple[float, bool]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        client = scope.get("client")
        CLIENT_ADDRESS.set(str(client[0]) if client else "unknown")
        if path.startswith(CLOSED_PREFIXES):
            await _plain(send, 404, "not found")
            return
        tokens = self._tokens(scope)
        user_token = self._user_token(scope, tokens)
        if tokens is not None and user_token is not None and not await self._stands(tokens, user_token):
            tokens.pop(user_token, None)  # Gradio's own check now asks this client to log in again
            user_token = None
        if path.startswith(NEEDS_LOGIN_PREFIXES) and user_token is None and tokens is not None:
            await _plain(send, 401, "log in first")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await _plain(send, 413, f"request body over {self.max_body_bytes} bytes")
            return
        await self.app(scope, self._limited(receive, send), self._with_headers(send))

    async def _stands(self, tokens: dict[str, str], token: str) -> bool:
        """The login behind ``token`` has not expired, nor been ended by a disable, a removal or a
        new password (read from the database at most every ``recheck_s`` per token, off the loop)."""
        now = time.time()
        if self.sessions.expired(token, now):
            return False
        if self.still_valid is None:
            return True
        checked_at, ok = self.checked.get(token, (0.0, True))
        if now - checked_at > self.recheck_s:
            user, since = tokens.get(token, ""), self.sessions.first[token]
            ok = await asyncio.get_running_loop().run_in_executor(None, self.still_valid, user, since)
            self.checked[token] = (now, ok)
        if not ok:
            self.checked.pop(token, None)
        return ok

    def _tokens(self, scope: Scope) -> dict[str, str] | None:
        app = scope.get("app")
        tokens = getattr(app, "tokens", None)
        return tokens if isinstance(tokens, dict) else None

    def _user_token(self, scope: Scope, tokens: dict[str, str] | None) -> str | None:
        if not tokens:
            return None
        for key, value in _cookies(scope).items():
            if key.startswith("access-token") and value in tokens:
                return value
        return None

    def _limited(self, receive: Receive, send: Send) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers", []):
                    if key.lower() == b"set-cookie" and value.startswith(b"access-token"):
                        token = value.split(b";", 1)[0].split(b"=", 1)[1].decode("latin-1")
                        self.sessions.first.setdefault(token, time.time())  # the login's own time
                headers = [
                    (k, _lax(v) if k.lower() == b"set-cookie" else v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                headers.append((b"content-security-policy", CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                message["headers"] = headers
            await send(message)

        return sending


def _lax(cookie: bytes) -> bytes:
    """A login cookie Gradio marks ``SameSite=None`` (sent on cross-site requests) made ``Lax``."""
    return cookie.replace(b"SameSite=none", b"SameSite=lax").replace(b"samesite=none", b"samesite=lax")


class BodyTooLarge(Exception):
    """A streamed request body passed the limit (the server answers 413 or drops the connection)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"content-security-policy", CSP.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
