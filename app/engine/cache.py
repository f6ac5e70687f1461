"""Parsed process definitions cached per deployed version (parsing BPMN is the slow part)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DefinitionCache:
    """A small thread-safe LRU of what a deployed version holds, keyed by version id.

    Deployed versions never change, so their parsed definition (and the forms the service
    layer keeps beside it under another key) can live as long as the process.
    """

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._items: OrderedDict[object, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, load: Callable[[], T]) -> T:
        """Return the cached value for key, computing it with load() on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                cached: T = self._items[key]
                return cached
        definition = load()
        with self._lock:
            self._items[key] = definition
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return definition

    def clear(self) -> None:
        """Forget everything (tests, redeploys in development)."""
        with self._lock:
            self._items.clear()


definitions = DefinitionCache()
