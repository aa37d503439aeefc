"""A recording's spans: which stretches of a session were recorded, and where they are in the file.

Session time counts seconds from the recorder's ``start()`` on the relay's clock. A pause ends a
span and a resume starts the next; the recording's timeline (and the final file) leaves the
paused stretches out, so span *k* starts in the file at the summed length of spans 0..k-1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordedSpan:
    """Session seconds ``start``..``end`` were recorded; they begin at ``file_start`` in the file.

    (Seconds of the recording's timeline; ``RecordingResult.spans`` are in final-file seconds.)
    """

    start: float
    end: float
    file_start: float


class Timeline:
    def __init__(self) -> None:
        self._spans: list[tuple[float, float | None]] = []

    @property
    def recording(self) -> bool:
        return bool(self._spans) and self._spans[-1][1] is None

    def begin(self, at: float) -> None:
        if self.recording:
            return
        if self._spans and at < (self._spans[-1][1] or 0.0):
            at = self._spans[-1][1] or 0.0
        self._spans.append((at, None))

    def end(self, at: float) -> None:
        if not self.recording:
            return
        start, _ = self._spans[-1]
        self._spans[-1] = (start, max(start, at))

    def file_time(self, at: float) -> float:
        """Where session time ``at`` lands in the recording, clamped into the latest span.

        Clamping keeps a packet that was sent just before a resume (or timed a little past a
        pause by clock noise) at the edge of the span it was recorded in.
        """
        if not self._spans:
            return 0.0
        file_start = sum(end - start for start, end in self._spans[:-1] if end is not None)
        start, end = self._spans[-1]
        if end is not None:
            at = min(at, end)
        return file_start + max(0.0, at - start)

    def spans(self, now: float) -> tuple[RecordedSpan, ...]:
        """Every span, the open one ending at ``now``."""
        result: list[RecordedSpan] = []
        file_start = 0.0
        for start, end in self._spans:
            stop = end if end is not None else max(start, now)
            result.append(RecordedSpan(start, stop, file_start))
            file_start += stop - start
        return tuple(result)
