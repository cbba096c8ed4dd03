"""Words for error sentences, shared by every layer (``engine.errors`` re-exports them)."""
from __future__ import annotations


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message (at most ``limit`` characters), or its type's
    name when the message is empty: library errors often span pages, a sentence quotes one line."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(exc).__name__
