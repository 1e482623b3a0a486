"""How numbers read wherever a person sees them: the command line, the digest, the dashboard."""

from __future__ import annotations

import math
from typing import Any


def missing(value: Any) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: Any, digits: int = 2) -> str:
    """``-0.0936`` -> ``-9.36%``; ``—`` when missing."""
    return "—" if missing(value) else f"{float(value) * 100:+.{digits}f}%"


def num(value: Any, fmt: str = "+.2f") -> str:
    """A statistic such as t (``-2.48``); ``—`` when missing."""
    return "—" if missing(value) else format(float(value), fmt)


def window_label(window: tuple[int, int]) -> str:
    """``(-1, 1)`` -> ``[-1,+1]``; ``(0, 0)`` -> ``[0,0]``."""
    s, e = window
    return f"[{s:+d},{e:+d}]".replace("+0", "0")
