"""Repairing UTF-8 that was decoded as Mac Roman, Windows-1252 or Latin-1."""

from __future__ import annotations

import pytest

from core.runbooks.mojibake import decode_bytes, repair

from .conftest import FIXTURES


@pytest.mark.parametrize("name, encoding", [("mojibake_macroman.md", "mac_roman"),
                                            ("mojibake_cp1252.md", "cp1252")])
def test_fixture_files_are_repaired_exactly(name: str, encoding: str) -> None:
    broken = (FIXTURES / name).read_text(encoding="utf-8")
    expected = (FIXTURES / "mojibake_expected.md").read_text(encoding="utf-8")
    fixed, repairs = repair(broken)
    assert fixed == expected
    assert repairs and {r.encoding for r in repairs} == {encoding}


@pytest.mark.parametrize(
    "broken, fixed",
    [
        ("\uf8ffüö® CRITICAL", "🚨 CRITICAL"),
        ("üö® CRITICAL", "🚨 CRITICAL"),  # the U+F8FF of the lead byte was lost
        ("‚ùå down", "❌ down"),
        ("Actions ‚Üí Reboot", "Actions → Reboot"),
        ("‚ö†Ô∏è WARNING", "⚠️ WARNING"),
        ("ðŸ”´ HIGH", "🔴 HIGH"),
        ("itâ€™s", "it’s"),
        ("Ã©tÃ© Ã¼ber", "été über"),
    ],
)
def test_runs_are_repaired(broken: str, fixed: str) -> None:
    assert repair(broken)[0] == fixed


@pytest.mark.parametrize(
    "good",
    ["Größe für Straße – “quotes” naïve café", "🚨 ✅ → ⚠️", "Ærøskøbing ñandú", "日本語のテキスト"],
)
def test_correct_text_is_left_alone(good: str) -> None:
    assert repair(good) == (good, [])


def test_decode_bytes_falls_back_to_windows_1252() -> None:
    assert decode_bytes("été".encode()) == ("été", "")
    text, note = decode_bytes("été".encode("cp1252"))
    assert text == "été" and "Windows-1252" in note
    assert decode_bytes(b"\xef\xbb\xbfhi")[0] == "hi"
