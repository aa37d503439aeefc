"""The thread that appends every recorder's journal: one per relay, closed with it.

Recorders only queue what they receive (on the event loop); this thread wakes every half second
(at once for a pause, resume or stop) and gives each recorder a turn to append what gathered
(``JournalJob.write_turn``). One thread for all of a relay's recorders: a thread per recorder
woke ~100 times a second at 48 recorders, each wake-up a GIL hand-off the event loop waited
for.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

# How long packets gather before the writer wakes: each wake-up is a GIL hand-off the event
# loop may wait for. A crash loses what gathered (at most this long).
BATCH_SECONDS = 0.5


class JournalJob(Protocol):
    def write_turn(self) -> bool:
        """Append what gathered (on the writer thread); True once the journal is closed."""
        ...


class JournalWriter:
    """Created by the relay (``Relay.journal_writer``); recorders reach it through their room.

    ``close()`` (the relay's) takes no more recorders; the thread ends once every recorder it
    has closed its journal, so a recording still running is not cut short.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[JournalJob] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        # CPU the writer thread has used (user + system, fsync included), across recordings.
        self.cpu_seconds = 0.0

    @property
    def running(self) -> bool:
        """Whether the thread is alive (it starts with the first recorder)."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def add(self, job: JournalJob) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the relay is closed: its journal writer takes no recorder")
            self._jobs.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="recorder-journals", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()

    def _run(self) -> None:
        while True:
            # Packets alone never wake the writer: it takes them in batches.
            self._wake.wait(BATCH_SECONDS)
            self._wake.clear()
            started = time.thread_time()
            with self._lock:
                jobs = list(self._jobs)
            for job in jobs:
                if job.write_turn():
                    with self._lock:
                        self._jobs.remove(job)
            self.cpu_seconds += time.thread_time() - started
            with self._lock:
                if self._closed and not self._jobs:
                    self._thread = None
                    return
