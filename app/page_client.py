"""A small HTTP client that speaks to ``judgelab serve`` the way the page in a browser does: the
login cookie, one Gradio session per tab, ``POST /gradio_api/queue/join`` per event and the results
read from the session's server-sent-event stream.

For scripts, load tests and benchmarks. Unlike ``gradio_client`` (which checks for results every
50 ms in helper threads), it adds next to nothing to what it times, so many clients fit on one
machine. ``State`` inputs are filled by the server from the session, as for the page.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx


class PageError(RuntimeError):
    """The app answered an event with an error (a refused role, a bad request)."""


class PageClient:
    def __init__(self, url: str, username: str | None = None, password: str | None = None, timeout: float = 120):
        self.http = httpx.Client(base_url=url, timeout=timeout)
        if username is not None:
            response = self.http.post("/login", data={"username": username, "password": password or ""})
            if response.status_code != 200:
                raise PageError(f"login as {username!r} refused ({response.status_code})")
        config = self.http.get("/config").json()
        state_ids = {c["id"] for c in config["components"] if c.get("type") == "state"}
        self._fn: dict[str, tuple[int, list[bool]]] = {}
        for index, dep in enumerate(config["dependencies"]):
            name = dep.get("api_name")
            if isinstance(name, str) and name:
                self._fn[name] = (index, [i in state_ids for i in dep["inputs"]])
        self.session = uuid.uuid4().hex[:12]

    @property
    def endpoints(self) -> list[str]:
        return sorted(self._fn)

    def _join(self, api_name: str, data: tuple[Any, ...], event_data: dict[str, Any] | None = None) -> str:
        name = api_name.lstrip("/")
        if name not in self._fn:
            raise PageError(f"no endpoint {name!r}; the app has {self.endpoints}")
        index, is_state = self._fn[name]
        given = iter(data)
        payload = [None if state else next(given, None) for state in is_state]
        body = {
            "data": payload,
            "fn_index": index,
            "session_hash": self.session,
            "event_data": event_data,  # what a select event carries (the row, the tab)
            "trigger_id": None,
        }
        response = self.http.post("/gradio_api/queue/join", json=body)
        if response.status_code != 200:
            raise PageError(f"{name}: join refused ({response.status_code}: {response.text[:200]})")
        return str(response.json()["event_id"])

    def call_many(
        self, calls: list[tuple[str, tuple[Any, ...]]], event_data: dict[str, Any] | None = None
    ) -> list[list[Any]]:
        """Send several events at once on this session (a double click sends the same one twice)
        and return each one's outputs, in the order given."""
        ids = [self._join(name, data, event_data) for name, data in calls]
        results: dict[str, list[Any]] = {}
        with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") in ids:
                    if not msg.get("success"):
                        output = msg.get("output") or {}
                        raise PageError(str(output.get("error") or output)[:500])
                    results[msg["event_id"]] = list(msg["output"]["data"])
                    if len(results) == len(ids):
                        break
        missing = [i for i in ids if i not in results]
        if missing:
            raise PageError(f"the stream closed before events {missing} completed")
        return [results[i] for i in ids]

    def call(self, api_name: str, *data: Any, event_data: dict[str, Any] | None = None) -> list[Any]:
        return self.call_many([(api_name, data)], event_data)[0]

    def close(self) -> None:
        self.http.close()
