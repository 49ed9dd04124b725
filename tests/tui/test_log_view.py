"""The log view on its own: hostile lines stay text, filter, search, follow, bounds."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tests.tui.waiting import until
from widgets.log_view import LogView, Query

HOSTILE = [
    "[bold]not bold[/bold]",
    "[@click=app.quit]click me[/]",
    "\x1b]52;c;aGVsbG8=\x07clipboard",
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
    "\x1b[2Jcleared?",
    "before\rafter",
]


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=100, id="log")


async def test_hostile_lines_are_shown_as_visible_text() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        view.extend(HOSTILE)
        await pilot.pause(0.1)
        shown = view.shown_lines()
        assert shown[0] == "[bold]not bold[/bold]"
        assert shown[1] == "[@click=app.quit]click me[/]"
        assert "\x1b" not in "".join(shown) and "\x07" not in "".join(shown)
        assert shown[2] == "␛]52;c;aGVsbG8=␇clipboard"
        assert shown[5] == "before␍after"
        rendered = "".join(seg.text for y in range(6) for seg in view.render_line(y))
        assert "[@click=app.quit]" in rendered and "\x1b" not in rendered
        await pilot.press("q")  # no binding: nothing happens, certainly not a click action
        assert app.is_running


async def test_filter_search_follow_and_bound() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        view.extend(f"line {i} {'ERROR boom' if i % 10 == 0 else 'ok'}" for i in range(250))
        await pilot.pause(0.1)
        assert view.shown_count == 100  # bounded to max_lines
        assert view.shown_lines()[-1].startswith("line 249")
        assert view.following
        await until(lambda: view.max_scroll_y > 0 and view.scroll_offset.y == view.max_scroll_y, 5)

        view.set_filter(Query.parse("error"))
        assert view.shown_count == 10 and all("ERROR" in ln for ln in view.shown_lines())
        view.set_filter(None)
        assert view.shown_count == 100

        view.set_search(Query.parse("re:line 1[0-9]0 "))
        assert len(view.match_rows) == 5  # lines 150, 160, 170, 180, 190 are still kept
        before = view.match_index
        view.next_match(1)
        assert view.match_index == (before + 1) % len(view.match_rows)
        assert not view.following  # searching holds the view

        view.jump_to_end()
        view.append("line new")
        await pilot.pause(0.1)
        assert view.shown_lines()[-1] == "line new"
        assert view.scroll_offset.y == view.max_scroll_y


def test_every_bad_regex_is_a_regex_error() -> None:
    import re

    import pytest

    # the logs screen catches re.error; re.compile raises others for these two
    for text in ("re:a{4294967296}", "re:" + "(" * 600 + "a" + ")" * 600, "re:a("):
        with pytest.raises(re.error):
            Query.parse(text)
