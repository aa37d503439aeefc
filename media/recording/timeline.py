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


def file_spans(spans: tuple[RecordedSpan, ...], starts_at: float) -> tuple[RecordedSpan, ...]:
    """Spans as the final file has them: it starts with the first packet, not at start()."""
    result = []
    for span in spans:
        skipped = starts_at - span.file_start
        if skipped >= span.end - span.start:
            continue  # nothing of this span reached the file
        if skipped > 0:
            span = RecordedSpan(span.start + skipped, span.end, starts_at)
        result.append(RecordedSpan(span.start, span.end, span.file_start - starts_at))
    return tuple(result)


class Timeline:
    def __init__(self) -> None:
        self._spans: list[tuple[float, float | None]] = []
        # Summed length of the spans before the latest: where the latest begins in the file.
        self._latest_file_start = 0.0

    @property
    def recording(self) -> bool:
        return bool(self._spans) and self._spans[-1][1] is None

    def begin(self, at: float) -> None:
        if self.recording:
            return
        if self._spans:
            start, end = self._spans[-1]
            assert end is not None  # not recording: the latest span is closed
            at = max(at, end)
            self._latest_file_start += end - start
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
        start, end = self._spans[-1]
        if end is not None:
            at = min(at, end)
        return self._latest_file_start + max(0.0, at - start)

    def spans(self, now: float) -> tuple[RecordedSpan, ...]:
        """Every span, the open one ending at ``now``."""
        result: list[RecordedSpan] = []
        file_start = 0.0
        for start, end in self._spans:
            stop = end if end is not None else max(start, now)
            result.append(RecordedSpan(start, stop, file_start))
            file_start += stop - start
        return tuple(result)
