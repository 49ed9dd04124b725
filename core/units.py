"""Human-readable numbers: bytes, durations, percentages."""

from __future__ import annotations


def human_bytes(n: float | None) -> str:
    """``1536`` → ``1.5K``; ``None`` → ``-``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}P"


def human_duration(seconds: float | None) -> str:
    """``3725`` → ``1h02m``; ``None`` → ``-``."""
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def human_age(seconds: float | None) -> str:
    """Like :func:`human_duration`, to the minute past the first minute (``3m``, ``1h02m``).

    For columns redrawn on every refresh (container uptime): seconds matter
    only while a thing is new (``12s``: it just restarted).
    """
    if seconds is not None and 60 <= seconds < 3600:
        return f"{int(seconds) // 60}m"
    return human_duration(seconds)


def percent(value: float | None) -> str:
    """``12.345`` → ``12.3%``; ``None`` → ``-``."""
    return "-" if value is None else f"{value:.1f}%"
