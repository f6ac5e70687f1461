"""Parsed process definitions cached per deployed version (parsing BPMN is the slow part)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from .definitions import ProcessDefinition


class DefinitionCache:
    """A small thread-safe LRU of ProcessDefinition keyed by process version id."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[object, ProcessDefinition] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, load: Callable[[], ProcessDefinition]) -> ProcessDefinition:
        """Return the cached definition for key, parsing it with load() on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
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
