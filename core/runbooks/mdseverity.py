"""Severity markers in Markdown runbooks, mapped to warroom's ordinal (0 worst .. 3).

Markers seen in the wild: words (CRITICAL/HIGH/MEDIUM/LOW, also German and
French), ``P0``–``P4``, ``SEV1``–``SEV4``, "Severity 2", and emoji
(🚨🔴🟠🟡🟢).  Numbered families are read against the document's own scale:
a document that mentions P4 and no P0 counts from P1, one that mentions
SEV0 counts from SEV0.  The scheme's labels name the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.config import SeverityConfig

_WORDS = {
    0: "critical crit blocker emergency kritisch critique crítico crítica",
    1: "high major urgent hoch dringend élevé élevée haute alta alto",
    2: "medium moderate mittel moyen moyenne media medio warning",
    3: "low minor trivial niedrig gering faible basse baja bajo cosmetic",
}
WORD_ORDINAL = {w: n for n, words in _WORDS.items() for w in words.split()}
_WORD_RE = "|".join(sorted(WORD_ORDINAL, key=len, reverse=True))

_P_RE = re.compile(r"(?<![\w-])P([0-4])(?![\w.])")
_SEV_RE = re.compile(
    r"(?i)(?<![\w-])(?:sev(?:erity)?|schweregrad|sévérité|severidad)[\s_:=-]*([0-5])(?![\w.])"
)
_META_RE = re.compile(
    r"(?i)^\W*(severity|priority|prio|impact level|level|schweregrad|priorität|dringlichkeit|"
    r"sévérité|priorité|gravité|severidad|prioridad)\W*?(?:\s*[:=–—-]\s*|\s+)\W*(?P<value>.+)$"
)
_HEAD_WORD_RE = re.compile(
    rf"^\W*(?:\[(?P<b>(?i:{_WORD_RE}))\]|\((?P<p>(?i:{_WORD_RE}))\)|"
    rf"(?P<w>(?i:{_WORD_RE}))\s*[:–—|-]|(?P<caps>{_WORD_RE.upper()})\s)"
)
_EMOJI = {"🚨": 0, "🔥": 0, "⛔": 0, "🔴": 0, "🟠": 1, "🟡": 2, "🟢": 3, "⚪": 3, "🔵": 3}


@dataclass(frozen=True)
class Marker:
    """A severity found in the text: what was written and the ordinal it maps to."""

    text: str
    ordinal: int
    note: str = ""
    strength: int = 2  # 3: a "Severity: …" line, 2: a word or number, 1: an emoji


class SeverityReader:
    """Reads severity markers with the document's own scale in mind."""

    def __init__(self, document: str, scheme: SeverityConfig | None = None) -> None:
        self.scheme = scheme or SeverityConfig()
        p_numbers = {int(n) for n in _P_RE.findall(document)}
        sev_numbers = {int(n) for n in _SEV_RE.findall(document)}
        scheme_p = [lab for lab in self.scheme.labels if re.fullmatch(r"P\d", lab)]
        if 0 in p_numbers:
            self.p_base = 0
        elif 4 in p_numbers:
            self.p_base = 1
        elif scheme_p:
            self.p_base = int(scheme_p[0][1])
        else:
            self.p_base = 0
        self.sev_base = 0 if 0 in sev_numbers else 1
        self.siren = "🚨" in document

    def _clamp(self, text: str, ordinal: int) -> Marker:
        if ordinal > 3:
            return Marker(text, 3, f"{text} is below the scheme's lowest severity: mapped to it")
        if ordinal < 0:
            return Marker(text, 0)
        return Marker(text, ordinal)

    def _emoji(self, text: str) -> Marker | None:
        for ch in text:
            if ch in _EMOJI:
                ordinal = _EMOJI[ch]
                if self.siren and ch in "🔴🟠":
                    ordinal += 1
                return Marker(ch, ordinal, strength=1)
        return None

    def _numbered(self, text: str) -> Marker | None:
        m = _P_RE.search(text)
        if m:
            return self._clamp(m.group(0), int(m.group(1)) - self.p_base)
        m = _SEV_RE.search(text)
        if m:
            return self._clamp(m.group(0), int(m.group(1)) - self.sev_base)
        return None

    def _word(self, word: str) -> Marker | None:
        folded = word.casefold()
        for i, label in enumerate(self.scheme.labels):
            if label.casefold() == folded and not re.fullmatch(r"(?i)(p|sev)\d", label):
                return Marker(word, i)
        if folded in WORD_ORDINAL:
            return Marker(word, WORD_ORDINAL[folded])
        return None

    def value(self, text: str) -> Marker | None:
        """The severity a value such as ``Critical``, ``P1``, ``SEV-2`` or ``2`` states."""
        found = self._numbered(text)
        if found:
            return found
        m = re.match(rf"(?i)\W*({_WORD_RE})\b", text)
        if m:
            return self._word(m.group(1))
        m = re.match(r"^\W*([0-5])\b", text)
        if m:
            return self._clamp(m.group(1), int(m.group(1)) - self.sev_base)
        return self._emoji(text)

    def heading(self, title: str) -> Marker | None:
        """A severity written in a heading: emoji, P/SEV numbers, or a leading word."""
        found = self._numbered(title)
        if found:
            return found
        m = _HEAD_WORD_RE.match(title.replace("**", ""))
        text = (m.group("b") or m.group("p") or m.group("w") or m.group("caps")) if m else ""
        word = self._word(text) if text else None
        return word or self._emoji(title)

    def meta(self, line: str) -> Marker | None:
        """A severity stated on a line such as ``Severity: Critical`` or ``Priorität: hoch``."""
        m = _META_RE.match(line.replace("**", "").replace("__", "").strip())
        found = self.value(m.group("value")) if m else None
        if found is None:
            return None
        return Marker(found.text, found.ordinal, found.note, strength=3)

    def label(self, ordinal: int) -> str:
        """The scheme's label of ``ordinal``."""
        return self.scheme.labels[ordinal]


def strip_heading_marker(title: str) -> str:
    """A heading without its leading severity marker ("CRITICAL: Full outage" → "Full outage")."""
    text = title.strip()
    text = re.sub(r"^\W*\[?\(?(P[0-4]|SEV-?[0-5])\]?\)?\s*[:–—\-|)\]]?\s*", "", text, flags=re.I)
    text = re.sub(rf"(?i)^\W*\[?\(?({_WORD_RE})\]?\)?\s*[:–—\-|)\]]\s*", "", text)
    text = re.sub(r"\s*[\[(](P[0-4]|SEV-?[0-5])[\])]\s*$", "", text, flags=re.I)
    return text.strip()
