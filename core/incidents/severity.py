"""The severity scheme: ordinal 0 (worst) .. 3 ↔ the configured labels and response targets.

Internally every incident carries an ordinal; only what the operator reads
uses the labels (``P0``–``P3`` by default, or ``SEV1``–``SEV4``,
``Critical``–``Low``, ``P1``–``P4`` … from ``[severity]``).  The response
target is the time from detection to acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.incidents.rules_config import parse_severity

if TYPE_CHECKING:
    from core.config import SeverityConfig

DEFAULT_LABELS: tuple[str, ...] = ("P0", "P1", "P2", "P3")
DEFAULT_RESPONSE_MINUTES: tuple[float, ...] = (0.0, 60.0, 240.0, 1440.0)


@dataclass(frozen=True)
class ResponseTimer:
    """Time since detection against the response target of a severity.

    ``overdue`` is true while unacknowledged past the target; once
    acknowledged, ``met`` says whether the acknowledgement came in time and
    the timer stops at the acknowledgement.
    """

    elapsed: float
    target: float
    remaining: float
    overdue: bool
    acknowledged: bool
    met: bool | None

    @property
    def immediate(self) -> bool:
        """The target is "immediate" (zero minutes)."""
        return self.target <= 0


class SeverityScheme:
    """Labels and response targets for the four severity ordinals, worst first."""

    def __init__(
        self,
        labels: tuple[str, ...] = DEFAULT_LABELS,
        response_minutes: tuple[float, ...] = DEFAULT_RESPONSE_MINUTES,
    ) -> None:
        if len(labels) != 4 or len(response_minutes) != 4:
            raise ValueError("a severity scheme has four labels and four response targets")
        if len({label.casefold() for label in labels}) != 4:
            raise ValueError("severity labels must be distinct")
        self.labels = tuple(labels)
        self.response_minutes = tuple(float(m) for m in response_minutes)

    @classmethod
    def from_config(cls, config: SeverityConfig) -> SeverityScheme:
        """The scheme of a ``[severity]`` table."""
        return cls(tuple(config.labels), tuple(config.response_minutes))

    def label(self, ordinal: int) -> str:
        """The label of ``ordinal`` (``P0`` for 0 by default)."""
        return self.labels[self.clamp(ordinal)]

    def ordinal(self, value: int | str) -> int:
        """The ordinal of a label (case-insensitive) or of an ordinal (checked); ``ValueError``."""
        return parse_severity(value, self.labels)

    @staticmethod
    def clamp(ordinal: int) -> int:
        """``ordinal`` forced into 0..3."""
        return max(0, min(3, int(ordinal)))

    def response_seconds(self, ordinal: int) -> float:
        """The response target of ``ordinal``, in seconds (0 means immediate)."""
        return self.response_minutes[self.clamp(ordinal)] * 60.0

    def describe_target(self, ordinal: int) -> str:
        """The response target in words: ``immediate``, ``15 min``, ``1 h``, ``24 h``."""
        return format_duration(self.response_seconds(ordinal), zero="immediate")

    def timer(
        self,
        ordinal: int,
        detected_at: float,
        now: float,
        acknowledged_at: float | None = None,
    ) -> ResponseTimer:
        """Time since detection vs the response target (stopped at acknowledgement)."""
        target = self.response_seconds(ordinal)
        end = acknowledged_at if acknowledged_at is not None else now
        elapsed = max(0.0, end - detected_at)
        acknowledged = acknowledged_at is not None
        return ResponseTimer(
            elapsed=elapsed,
            target=target,
            remaining=max(0.0, target - elapsed),
            overdue=not acknowledged and elapsed > target,
            acknowledged=acknowledged,
            met=(elapsed <= target) if acknowledged else None,
        )

    @staticmethod
    def is_critical(ordinal: int) -> bool:
        """The two highest severities (Nagios CRITICAL in ``warroom check``)."""
        return ordinal <= 1


def format_duration(seconds: float, zero: str = "0 s") -> str:
    """A short human duration: ``45 s``, ``12 min``, ``1 h 05 min``, ``24 h``, ``2 d 3 h``."""
    seconds = max(0.0, seconds)
    if seconds < 0.5:
        return zero
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"
