"""redis-py types an answer as bytes or str (which one depends on the client's decode_responses);
the tests' clients leave decode_responses off, so their answers are bytes."""

from __future__ import annotations


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
