"""Work shared by every session of one studio process: heavy jobs one at a time, their results cached by content,
and a record of which sessions were running, so that a timing can say whether it was taken beside other work.

Nothing here imports Streamlit; ``app_pages/common.py`` holds the process's one ``HeavyJobs``, ``SharedResults``
and ``Activity`` and wraps every compress, detect and export in them.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

OTHERS_RAN = ("Other sessions were running during this measurement, so its timings are uncertain and no speed "
              "verdict is given; measure again when the studio is quiet.")


class HeavyJobs:
    """A process-wide queue for heavy jobs: ``slots`` run at once, the rest wait. Re-entrant per thread."""

    def __init__(self, slots: int = 1):
        self._slots = threading.Semaphore(slots)
        self._state = threading.Lock()
        self._holders: dict[int, int] = {}  # thread id -> nesting depth
        self.waiting = 0

    @contextmanager
    def slot(self, on_queued: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold one slot for the block; when none is free, call ``on_queued(jobs ahead)`` once and wait."""
        me = threading.get_ident()
        with self._state:
            nested = me in self._holders
            if nested:
                self._holders[me] += 1
        if not nested:
            if not self._slots.acquire(blocking=False):
                with self._state:
                    self.waiting += 1
                    ahead = self.waiting
                try:
                    if on_queued is not None:
                        on_queued(ahead)
                    self._slots.acquire()
                finally:
                    with self._state:
                        self.waiting -= 1
            with self._state:
                self._holders[me] = 1
        try:
            yield
        finally:
            with self._state:
                self._holders[me] -= 1
                done = self._holders[me] == 0
                if done:
                    del self._holders[me]
            if done:
                self._slots.release()


class SharedResults:
    """Results every session may reuse, keyed by what determines them (a model's content key and a config),
    the least recently used dropped beyond ``max_entries``."""

    def __init__(self, max_entries: int = 32):
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: Hashable) -> Any | None:
        """The result stored under ``key``, or None."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` under ``key``."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get_or_run(self, key: Hashable, compute: Callable[[], Any], jobs: HeavyJobs,
                   on_queued: Callable[[int], None] | None = None) -> tuple[Any, bool]:
        """(result, whether it came from the cache): a cached result at once, else ``compute()`` in a heavy-job
        slot (checking again once the slot is ours, since another session may have computed it meanwhile)."""
        found = self.get(key)
        if found is not None:
            return found, True
        with jobs.slot(on_queued):
            found = self.get(key)
            if found is not None:
                return found, True
            value = compute()
            self.put(key, value)
            return value, False


@dataclass(frozen=True)
class Measured(Generic[T]):
    """A result that holds timings, and whether other sessions were running while it was measured."""

    value: T
    others_ran: bool


@dataclass
class Watch:
    """Whether any other session ran a page while this watch was open."""

    session_id: str
    others_ran: bool = False


class Activity:
    """Which sessions are running a page right now."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # session id -> page runs in flight
        self._watches: list[Watch] = []

    def _others_running(self, session_id: str) -> bool:
        return any(count for other, count in self._running.items() if other != session_id)

    @contextmanager
    def running(self, session_id: str) -> Iterator[None]:
        """Mark one page run of ``session_id`` for the block; every open watch of another session notes it."""
        with self._lock:
            self._running[session_id] = self._running.get(session_id, 0) + 1
            for watch in self._watches:
                if watch.session_id != session_id:
                    watch.others_ran = True
        try:
            yield
        finally:
            with self._lock:
                self._running[session_id] -= 1
                if not self._running[session_id]:
                    del self._running[session_id]

    @contextmanager
    def watch(self, session_id: str) -> Iterator[Watch]:
        """A Watch for the block: ``others_ran`` is set when another session ran a page at any time during it."""
        watch = Watch(session_id)
        with self._lock:
            watch.others_ran = self._others_running(session_id)
            self._watches.append(watch)
        try:
            yield watch
        finally:
            with self._lock:
                self._watches.remove(watch)
                watch.others_ran = watch.others_ran or self._others_running(session_id)
