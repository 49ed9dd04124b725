"""A small Markdown reader for runbooks: blocks with line numbers, lists nested.

It knows what runbooks use: ATX and setext headings, fenced code (also
inside list items), bullet, numbered (``1.``, ``1)``, ``1.2``), lettered
(``a)``, ``B.``) and checkbox items, tables, block quotes, rules and
paragraphs.  Every block keeps its first and last line so the importer can
say where a fragment it could not map comes from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`{]*)[^`]*$")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_ITEM = re.compile(
    r"^(\s*)(?P<marker>[-*+•]|\d{1,3}[.)]|\d{1,3}(?:\.\d{1,3})+\.?|[A-Za-z][.)])\s+(?P<text>.*)$"
)
_CHECKBOX = re.compile(r"^\[([ xX])\]\s*(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


@dataclass
class Block:
    """One Markdown block (see the module docstring for the kinds)."""

    kind: str  # heading, fence, item, para, table, rule, html
    line: int
    end: int
    indent: int = 0
    text: str = ""
    level: int = 0
    lang: str = ""
    code: list[tuple[int, str]] = field(default_factory=list)
    marker: str = ""
    checkbox: str | None = None
    rows: list[list[str]] = field(default_factory=list)
    children: list[Block] = field(default_factory=list)
    content_indent: int = 0

    @property
    def ordered(self) -> bool:
        return self.kind == "item" and self.marker[:1].isalnum()

    @property
    def number(self) -> str:
        """The item's number or letter without its punctuation ("1", "1.2", "a")."""
        return self.marker.rstrip(".)") if self.ordered else ""

    def walk(self) -> list[Block]:
        """This block and every block nested in it, in order."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _starts_block(line: str) -> bool:
    return bool(
        _FENCE.match(line)
        or _ATX.match(line)
        or _RULE.match(line)
        or _ITEM.match(line)
        or line.lstrip().startswith(("|", ">", "<!--"))
    )


def _split_row(line: str) -> list[str]:
    body = line.strip()
    body = body.removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def _flat(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    i = 0
    n = len(lines)
    item_indent = -1  # content indent of the list item text may still belong to
    while i < n:
        line = lines[i]
        number = i + 1
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        if item_indent >= 0 and indent < item_indent and not _ITEM.match(line.expandtabs(4)):
            item_indent = -1
        base = (item_indent if item_indent >= 0 else 0) + 4
        if indent >= base and i > 0 and not lines[i - 1].strip() and not _ITEM.match(line):
            block_code: list[tuple[int, str]] = []
            j = i
            while j < n and (not lines[j].strip() or _indent(lines[j]) >= base):
                block_code.append((j + 1, lines[j].expandtabs(4)[base:]))
                j += 1
            while block_code and not block_code[-1][1].strip():
                block_code.pop()
            end = block_code[-1][0]
            blocks.append(Block("fence", number, end, base - 4, lang="", code=block_code))
            i = j
            continue
        fence = _FENCE.match(line)
        if fence:
            mark = fence.group(2)
            code: list[tuple[int, str]] = []
            j = i + 1
            while j < n:
                stripped = lines[j].strip()
                if stripped.startswith(mark[0] * len(mark)) and set(stripped) <= {mark[0]}:
                    break
                raw = lines[j].expandtabs(4)
                cut = min(indent, _indent(raw)) if raw.strip() else len(raw)
                code.append((j + 1, raw[cut:]))
                j += 1
            lang = fence.group(3).lower().lstrip(".")
            blocks.append(Block("fence", number, min(j + 1, n), indent, lang=lang, code=code))
            i = j + 1
            continue
        atx = _ATX.match(line)
        if atx:
            blocks.append(Block("heading", number, number, indent, (atx.group(2) or "").strip(),
                                level=len(atx.group(1))))
            i += 1
            continue
        if line.lstrip().startswith("<!--"):
            j = i
            while j < n and "-->" not in lines[j]:
                j += 1
            blocks.append(Block("html", number, min(j + 1, n), indent, line.strip()))
            i = j + 1
            continue
        if _RULE.match(line):
            blocks.append(Block("rule", number, number, indent))
            i += 1
            continue
        if "|" in line and i + 1 < n and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows = [_split_row(line)]
            j = i + 2
            while j < n and "|" in lines[j] and lines[j].strip():
                rows.append(_split_row(lines[j]))
                j += 1
            blocks.append(Block("table", number, j, indent, rows=rows))
            i = j
            continue
        item = _ITEM.match(line.expandtabs(4))
        if item:
            text = item.group("text")
            marker = item.group("marker")
            checkbox = None
            box = _CHECKBOX.match(text)
            if box and not marker[:1].isalnum():
                checkbox, text = box.group(1).lower(), box.group(2)
            content = item.start("text")
            item_indent = content
            j = i + 1
            parts = [text]
            while j < n and lines[j].strip() and not _starts_block(lines[j]):
                if _SETEXT.match(lines[j]):
                    break
                parts.append(lines[j].strip())
                j += 1
            blocks.append(Block("item", number, j, indent, " ".join(p for p in parts if p),
                                marker=marker, checkbox=checkbox, content_indent=content))
            i = j
            continue
        # paragraph (or setext heading, or block quote)
        quote = line.lstrip().startswith(">")
        parts = [line.strip().lstrip(">").strip() if quote else line.strip()]
        j = i + 1
        while j < n and lines[j].strip():
            if _SETEXT.match(lines[j]) and not quote and j == i + 1:
                level = 1 if lines[j].strip().startswith("=") else 2
                blocks.append(Block("heading", number, j + 1, indent, parts[0], level=level))
                parts = []
                j += 1
                break
            if _starts_block(lines[j]) and not (quote and lines[j].lstrip().startswith(">")):
                break
            parts.append(lines[j].strip().lstrip(">").strip() if quote else lines[j].strip())
            j += 1
        if parts:
            blocks.append(Block("para", number, j, indent, "\n".join(p for p in parts if p)))
        i = j
    return blocks


def _nest(blocks: list[Block]) -> list[Block]:
    top: list[Block] = []
    stack: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            stack.clear()
            top.append(block)
            continue
        if block.kind == "item" and block.ordered and "." in block.number:
            prefix = block.number.rsplit(".", 1)[0]
            parents = [k for k, b in enumerate(stack) if b.ordered and b.number == prefix]
            if parents:
                del stack[parents[-1] + 1 :]
                stack[-1].children.append(block)
                stack.append(block)
                continue
        if block.kind == "fence" and stack and not stack[-1].children and (
            block.indent < stack[-1].content_indent and block.line <= stack[-1].end + 2
        ):
            stack[-1].children.append(block)  # a fence written flush under its list item
            continue
        while stack and block.indent < stack[-1].content_indent and not (
            block.kind == "item" and block.indent > stack[-1].indent and block.indent >= 2
        ):
            stack.pop()
        if stack and block.kind == "item" and block.indent <= stack[-1].indent:
            while stack and block.indent <= stack[-1].indent:
                stack.pop()
        (stack[-1].children if stack else top).append(block)
        if block.kind == "item":
            stack.append(block)
    return top


def parse_markdown(text: str) -> list[Block]:
    """The blocks of ``text``: headings and top-level blocks, list items holding their content."""
    return _nest(_flat(text.split("\n")))


_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")


def clean_inline(text: str) -> str:
    """Inline Markdown made plain: bold markers dropped, links as their text (and URL)."""

    def link(m: re.Match[str]) -> str:
        label, url = m.group(1), m.group(2)
        if m.group(0).startswith("!"):
            return label
        if url.startswith(("http://", "https://")) and url not in label:
            return f"{label} ({url})" if label else url
        return label or url

    text = _LINK.sub(link, text)
    text = _BOLD.sub(r"\2", text)
    text = re.sub(r"<br\s*/?>", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def inline_code(text: str) -> list[str]:
    """The contents of the inline code spans (`` `…` ``) of ``text``."""
    return [m.group(2).strip() for m in re.finditer(r"(`+)(.+?)\1", text)]


def block_text(block: Block) -> str:
    """A block (and what is nested in it) as plain text, for instructions and descriptions."""
    lines: list[str] = []

    def add(b: Block, depth: int) -> None:
        pad = "  " * depth
        if b.kind == "item":
            box = f"[{b.checkbox}] " if b.checkbox is not None else ""
            lines.append(f"{pad}{b.marker} {box}{clean_inline(b.text)}".rstrip())
        elif b.kind == "para":
            lines.append(pad + clean_inline(b.text))
        elif b.kind == "fence":
            lines.extend(pad + code for _, code in b.code)
        elif b.kind == "table":
            lines.extend(pad + " | ".join(row) for row in b.rows)
        elif b.kind == "heading":
            lines.append(clean_inline(b.text))
        for child in b.children:
            add(child, depth + 1)

    add(block, 0)
    return "\n".join(lines)
