"""A least-recently-used cache of decoded frames with a budget in bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class FrameCache(Generic[V]):
    """LRU map ``frame index -> value`` whose values' total size never exceeds ``max_bytes``.

    Values are whatever the reader stores (converted frames or still-undecoded-to-BGR frames);
    ``size_of`` tells their size. A value larger than the whole budget is not stored.
    Not thread-safe (one reader per thread).
    """

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._size_of = size_of
        self._items: OrderedDict[int, tuple[V, int]] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> V | None:
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def peek(self, key: int) -> V | None:
        """The value without counting a hit or refreshing its age."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def put(self, key: int, value: V) -> None:
        size = self._size_of(value)
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old[1]
        if size > self.max_bytes:
            return
        self._items[key] = (value, size)
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, (_, s) = self._items.popitem(last=False)
            self.nbytes -= s

    def keys(self) -> list[int]:
        """Cached frame indices, least recently used first."""
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0
