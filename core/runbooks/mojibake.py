"""Repair text whose UTF-8 was decoded with the wrong encoding ("mojibake").

A runbook copied through a tool that read its UTF-8 bytes as Mac Roman,
Windows-1252 or Latin-1 shows ``🚨`` as ``üö®``/``ðŸš¨`` and ``→`` as
``‚Üí``/``â†’``.  :func:`repair` looks at every run of non-ASCII characters,
re-encodes it with each candidate encoding, and keeps a decode that yields
real UTF-8 characters where the run had odd ones.  Correct text is left
alone: a legitimate ``für`` or ``Größe`` never re-encodes to valid UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CANDIDATES = ("mac_roman", "cp1252", "latin-1")
_NAMES = {"mac_roman": "Mac Roman", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
_RUN = re.compile(r"[^\x00-\x7f]{2,}")


@dataclass(frozen=True)
class Repair:
    """One repaired run: where, what it was, what it became, and the encoding guessed."""

    line: int
    before: str
    after: str
    encoding: str


def _encode(run: str, encoding: str) -> bytes | None:
    out = bytearray()
    for ch in run:
        try:
            out += ch.encode(encoding)
        except UnicodeEncodeError:
            if encoding == "cp1252" and ord(ch) < 256:
                out.append(ord(ch))  # the five bytes cp1252 leaves undefined pass through
            else:
                return None
    return bytes(out)


_KEEP_MARKS = {"\ufe0e", "\ufe0f", "\u20e3"}  # variation selectors, keycap: part of emoji


def _plausible(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in ("Mn", "Me") and ch not in _KEEP_MARKS:
        return False  # a lone combining mark is a sign of the wrong candidate
    return category not in ("Cc", "Co", "Cn", "Cs")


def _decode(data: bytes, original: str) -> tuple[str, int]:
    """Decode the valid UTF-8 sequences of ``data``; other bytes keep their original character.

    Returns the text and how many multi-byte characters were decoded.
    """
    if data[:1] == b"\x9f" and len(data) >= 3 and all(0x80 <= b <= 0xBF for b in data[1:3]):
        # an emoji whose lead byte 0xF0 was lost (Mac Roman shows it as U+F8FF, often dropped)
        data = b"\xf0" + data
        original = "\x00" + original
    out: list[str] = []
    decoded = 0
    i = 0
    while i < len(data):
        b = data[i]
        size = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        if size and i + size <= len(data):
            try:
                ch = data[i : i + size].decode("utf-8")
            except UnicodeDecodeError:
                ch = ""
            if ch and all(_plausible(c) for c in ch):
                out.append(ch)
                decoded += 1
                i += size
                continue
        if original[i] != "\x00":
            out.append(original[i])
        i += 1
    return "".join(out), decoded


def _repair_run(run: str) -> tuple[str, str] | None:
    best: tuple[int, int, str, str] | None = None
    for rank, encoding in enumerate(CANDIDATES):
        data = _encode(run, encoding)
        if data is None:
            continue
        fixed, decoded = _decode(data, run)
        if not decoded or fixed == run:
            continue
        # fewer characters left over wins; then the candidate order
        key = (len(fixed), rank)
        if best is None or key < best[:2]:
            best = (len(fixed), rank, fixed, encoding)
    return (best[2], best[3]) if best else None


def repair(text: str) -> tuple[str, list[Repair]]:
    """``text`` with mis-decoded UTF-8 repaired, and the list of repairs made."""
    repairs: list[Repair] = []
    for _ in range(2):  # twice: text can be mis-decoded twice over
        changed = False
        lines = text.split("\n")
        for number, line in enumerate(lines, 1):
            if line.isascii():
                continue

            def fix(m: re.Match[str], number: int = number) -> str:
                nonlocal changed
                result = _repair_run(m.group(0))
                if result is None:
                    return m.group(0)
                changed = True
                repairs.append(Repair(number, m.group(0), result[0], result[1]))
                return result[0]

            lines[number - 1] = _RUN.sub(fix, line)
        text = "\n".join(lines)
        if not changed:
            break
    return text, repairs


def describe(repairs: list[Repair]) -> str:
    """A one-line summary of the repairs for the import report."""
    if not repairs:
        return ""
    encodings = sorted({_NAMES.get(r.encoding, r.encoding) for r in repairs})
    first = repairs[0]
    return (
        f"repaired {len(repairs)} mis-decoded character sequence(s) (UTF-8 read as "
        f"{' / '.join(encodings)}), e.g. line {first.line}: {first.before!r} → {first.after!r}"
    )


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Text of a file's bytes: UTF-8 (BOM removed), else Windows-1252; and a note if not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        where = exc.start
    try:
        return data.decode("cp1252"), f"not UTF-8 (byte {where}): read as Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), f"not UTF-8 (byte {where}): read as Latin-1"
