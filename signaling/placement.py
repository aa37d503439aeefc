"""Where a new session lives when several nodes share Redis: one strategy, one method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class NodeSelector(Protocol):
    def select(self, me: str, loads: Mapping[str, int]) -> str:
        """The node to host a new session, given each live node's current session count."""
        ...


class LeastLoadedSelector:
    """Fewest sessions wins; on a tie the asking node keeps it (no hop through Redis)."""

    def select(self, me: str, loads: Mapping[str, int]) -> str:
        if not loads:
            return me
        lowest = min(loads.values())
        if loads.get(me) == lowest:
            return me
        return min(node for node, load in loads.items() if load == lowest)
