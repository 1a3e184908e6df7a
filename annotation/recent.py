"""A small thread-safe least-recently-used store (:class:`Recent`): what a running app keeps of what it
computed, held by its ``Services`` (never at module level)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class Recent:
    """The last few results an app computed (the dashboard's refreshes), by key, least recently used
    dropped first; thread-safe. Lives on the app's :class:`Services`, never at module level."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
