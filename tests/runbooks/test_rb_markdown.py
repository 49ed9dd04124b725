"""The Markdown reader: blocks, nesting, line numbers."""

from __future__ import annotations

from core.runbooks.markdown import clean_inline, parse_markdown

DOC = """Title
=====

1. **Check**

   ```bash
   docker ps
   ```

2. Next
   1.1 Nested: `df -h`
   a) lettered
- [ ] box
- [x] done

| a | b |
|---|---|
| 1 | 2 |
"""


def test_blocks_nesting_and_lines() -> None:
    blocks = parse_markdown(DOC)
    kinds = [(b.kind, b.line) for b in blocks]
    assert kinds[0] == ("heading", 1) and blocks[0].level == 1
    first = blocks[1]
    assert first.kind == "item" and first.number == "1"
    assert first.children[0].kind == "fence" and first.children[0].code == [(7, "docker ps")]
    second = blocks[2]
    assert [c.marker for c in second.children] == ["1.1", "a)"]
    boxes = [b for b in blocks if b.checkbox is not None]
    assert [b.checkbox for b in boxes] == [" ", "x"]
    table = blocks[-1]
    assert table.kind == "table" and table.rows == [["a", "b"], ["1", "2"]] and table.line == 16


def test_clean_inline() -> None:
    assert clean_inline("**Bold** [docs](https://x.org) and [anchor](#a)") == (
        "Bold docs (https://x.org) and anchor"
    )
