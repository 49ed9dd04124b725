"""The blocks of one runbook section → steps and decisions, in order.

Labels (``**Symptoms:**``, ``### Resolution``, ``Schritte:``) switch between
symptoms (→ description and match), notes, and steps.  Numbered items and
sub-headings become steps in order; a list item with code gets one step per
command, a text-only item one manual step; checkboxes are manual steps.
"If …" items and paragraphs become decisions (with an "Otherwise …" branch
when one follows); lettered alternatives ("A. …", "B. …") become one
decision whose answers lead into each alternative.
"""

from __future__ import annotations

import re

from core.runbooks.commands import is_known_program
from core.runbooks.markdown import Block, block_text, clean_inline, inline_code
from core.runbooks.mdcode import (
    SHELL_WORDS,
    Context,
    Entry,
    command_nodes,
    conditional,
    fence_nodes,
    otherwise,
    question_of,
)
from core.runbooks.mddraft import Build, Decision, Draft, Node
from core.runbooks.mdsections import (
    branch_letter,
    is_contact_table,
    is_substep,
    part_kind,
    strip_number,
)

_LABEL = re.compile(r"^(?:\*\*|__)(?P<label>.+?)(?:\*\*|__)\s*:?\s*(?P<rest>.*)$", re.S)
_PLAIN_LABEL = re.compile(r"^(?P<label>[^:`\n]{2,40}):\s*(?P<rest>.*)$", re.S)
_NOTE = re.compile(r"(?i)^\W*(note|warning|caution|important|tip|hint|hinweis|achtung|wichtig|"
                   r"remarque|attention|⚠|ℹ)")
_META_INFO = re.compile(r"(?i)^(response time|rto|rpo|owner|reaktionszeit|verantwortlich|"
                        r"last updated|version|maintainer|stand)\b")


def label_of(block: Block) -> tuple[str, str] | None:
    """The label and the text after it of a ``**Label:** text`` paragraph (or a known plain one)."""
    if block.kind != "para":
        return None
    m = _LABEL.match(block.text.strip())
    if m:
        return m.group("label").strip().rstrip(":").strip(), m.group("rest").strip()
    m = _PLAIN_LABEL.match(block.text.strip().strip("*_").strip())
    if m and (part_kind(m.group("label")) or _META_INFO.match(m.group("label"))):
        return m.group("label").strip(), m.group("rest").strip()
    return None


def inline_commands(text: str, min_words: int = 1) -> list[str]:
    """The inline code spans of ``text`` that are shell commands of a program warroom knows."""
    out = []
    for code in inline_code(text):
        words = code.split()
        word = words[0] if words else ""
        path_only = len(words) == 1 and (word.startswith("/") or word.endswith((".log", ".conf")))
        if len(words) >= min_words and not path_only and (
            is_known_program(word) or word in ("sudo", "./") or word in SHELL_WORDS
        ):
            out.append(code)
    return out


def _item_title(text: str) -> tuple[str, str]:
    clean = text.strip()
    m = re.match(r"^(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*(.*)$", clean)
    if m:
        return clean_inline(m.group(1)).rstrip(":"), m.group(2).strip()
    m = re.match(r"^([^:`]{3,60}):\s+(.+)$", clean)
    if m:
        return clean_inline(m.group(1)), m.group(2).strip()
    return clean_inline(clean).rstrip(":"), ""


def _has_steps(blocks: list[Block]) -> bool:
    for block in blocks:
        for b in block.walk():
            if b.kind == "fence" and b.code:
                return True
            if b.kind == "item" and (b.checkbox is not None or inline_commands(b.text)):
                return True
    return False


class Flow:
    """Reads the blocks of one runbook into nodes, collecting the rest into its :class:`Build`."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.mode = "steps"
        self.steps_seen = False
        self.explicit_steps = False

    # -- text that is not a step ----------------------------------------------------

    def _text(self, text: str, line: int) -> None:
        if not text:
            return
        if self.mode == "symptoms":
            self.build.symptoms.append(text)
        elif self.mode == "diagnosis":
            self.build.diagnosis.append(text)
        elif self.mode == "info" or _NOTE.match(text) or self.steps_seen:
            self.build.notes.append(text)
        else:
            self.build.intro.append(text)

    def _meta(self, text: str, line: int) -> bool:
        marker = self.build.reader.meta(text)
        if marker is not None:
            self.build.markers.append(marker)
            return True
        return False

    # -- the main loop --------------------------------------------------------------

    def nodes(self, blocks: list[Block], ctx: Context | None = None) -> list[Node]:
        """The steps and decisions of ``blocks`` (siblings), in order."""
        ctx = ctx or Context()
        out: list[Node] = []
        i = 0
        while i < len(blocks):
            block = blocks[i]
            label = label_of(block) if block.kind == "para" else None
            letter = ""
            if block.kind == "heading":
                letter = branch_letter(block.text)
            elif label is not None:
                letter = branch_letter(label[0])
            if letter:
                run_end = self._branch_run(blocks, i)
                if run_end is not None:
                    out.append(self._branches(blocks[i:run_end], ctx))
                    i = run_end
                    continue
            if block.kind == "heading":
                self._heading(block, ctx)
            elif block.kind == "para":
                lines = block.text.split("\n")
                if len(lines) > 1 and sum(1 for x in lines if re.match(r"^(\*\*|__)", x)) >= 2:
                    parts = [Block("para", block.line + k, block.line + k, block.indent, x)
                             for k, x in enumerate(lines)]
                    blocks = blocks[:i] + parts + blocks[i + 1 :]
                    continue
                i = self._para(blocks, i, label, ctx, out)
                continue
            elif block.kind == "item":
                i = self._items(blocks, i, ctx, out)
                continue
            elif block.kind == "fence":
                if self.mode == "symptoms" and not _has_steps([block]):
                    self.build.symptoms.append(block_text(block))
                else:
                    made = fence_nodes(block, self.build, ctx)
                    out.extend(made)
                    self.steps_seen = self.steps_seen or bool(made)
            elif block.kind == "table":
                self._table(block, ctx, out)
            elif block.kind == "html":
                self.build.fragment(block.line, block.end, "HTML comment", block.text)
            i += 1
        return out

    def _heading(self, block: Block, ctx: Context) -> None:
        kind = part_kind(block.text)
        marker = self.build.reader.heading(block.text)
        if marker is not None:
            self.build.markers.append(marker)
        if kind:
            self.mode = kind
            self.explicit_steps = self.explicit_steps or kind == "steps"
            ctx.title, ctx.used = "", False
        else:
            self.mode = "steps"
            self.explicit_steps = True
            ctx.title, ctx.used = strip_number(clean_inline(block.text)), False

    def _table(self, block: Block, ctx: Context, out: list[Node]) -> None:
        rows = block.rows[1:]
        if self.mode in ("steps", "diagnosis") and any(
            inline_commands(" ".join(r), 2) for r in rows
        ):
            for row in rows:
                label = next((clean_inline(c) for c in row if c and not inline_code(c)), "")
                commands = inline_commands(" ".join(row), 2)
                if not commands:
                    if label:
                        out.append(Draft("manual", label, block.line, instructions=" | ".join(row)))
                    continue
                inner = Context(label)
                for command in commands:
                    out.extend(command_nodes(Entry("command", block.line, command), [],
                                             self.build, inner))
            self.steps_seen = True
            return
        if is_contact_table(block):
            self.build.fragment(block.line, block.end, "contact table (skipped)")
        elif self.mode in ("symptoms", "info"):
            (self.build.symptoms if self.mode == "symptoms" else self.build.notes).append(
                block_text(block)
            )
        else:
            header = " | ".join(block.rows[0]) if block.rows else ""
            self.build.fragment(block.line, block.end, f"table ({len(block.rows)} rows)", header)

    def _para(self, blocks: list[Block], i: int, label: tuple[str, str] | None,
              ctx: Context, out: list[Node]) -> int:
        block = blocks[i]
        text = clean_inline(block.text)
        if label is not None:
            name, rest = label
            if self._meta(f"{name}: {rest}", block.line) or self._meta(name, block.line):
                return i + 1
            kind = part_kind(name)
            if kind:
                ctx.title, ctx.used = "", False
                self.explicit_steps = self.explicit_steps or kind == "steps"
                if rest:
                    saved, self.mode = self.mode, kind
                    self._text(clean_inline(rest), block.line)
                    self.mode = "steps" if kind == "symptoms" else saved
                else:
                    self.mode = kind
                return i + 1
            if _META_INFO.match(name):
                self.build.notes.append(text)
                return i + 1
            if _NOTE.match(name):
                self.build.notes.append(text)
                return i + 1
            if conditional(name):
                return self._conditional(blocks, i, name + (": " + rest if rest else ":"), ctx, out)
            if is_substep(name) and rest:
                pseudo = Block("item", block.line, block.end, text=rest, marker="1.")
                made = self._item(pseudo, ctx)
                out.extend(made)
                self.steps_seen = self.steps_seen or bool(made)
                return i + 1
            self.mode = "steps" if self.mode != "info" else self.mode
            ctx.title, ctx.used = clean_inline(name), False
            if rest:
                self._text(clean_inline(rest), block.line)
            return i + 1
        if self._meta(text, block.line):
            return i + 1
        if self.mode in ("steps", "diagnosis") and conditional(text):
            return self._conditional(blocks, i, text, ctx, out)
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if text.endswith(":") and nxt is not None and nxt.kind in ("fence", "item", "table"):
            ctx.title, ctx.used = text.rstrip(":"), False
            return i + 1
        if self.mode in ("steps", "diagnosis") and len(text) < 240 and inline_commands(
            block.text, 2
        ):
            pseudo = Block("item", block.line, block.end, text=block.text, marker="1.")
            made = self._item(pseudo, ctx)
            out.extend(made)
            self.steps_seen = self.steps_seen or bool(made)
            return i + 1
        if self.mode == "steps" and self.steps_seen and not _NOTE.match(text):
            out.append(Draft("manual", _first_sentence(text), block.line, instructions=text))
            return i + 1
        self._text(text, block.line)
        return i + 1

    def _conditional(self, blocks: list[Block], i: int, text: str,
                     ctx: Context, out: list[Node]) -> int:
        block = blocks[i]
        question, consequence = question_of(clean_inline(text))
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        guarded: list[Node] = []
        j = i + 1
        if text.rstrip().endswith(":") and nxt is not None and nxt.kind in ("fence", "item"):
            topic = (consequence[:1].upper() + consequence[1:]) if consequence else question
            if nxt.kind == "fence":
                guarded = fence_nodes(nxt, self.build, Context(topic))
                j = i + 2
            else:
                j = i + 1
                while j < len(blocks) and blocks[j].kind == "item":
                    j += 1
                guarded = self.nodes(blocks[i + 1 : j], Context(topic))
        if not guarded:
            title = consequence[:1].upper() + consequence[1:] if consequence else question
            guarded = [Draft("manual", title, block.line, instructions=clean_inline(text))]
        decision = Decision(question, block.line, [("yes", guarded)])
        if j < len(blocks) and blocks[j].kind == "para" and otherwise(clean_inline(blocks[j].text)):
            other = clean_inline(blocks[j].text)
            decision.otherwise = [Draft("manual", _first_sentence(other), blocks[j].line,
                                        instructions=other)]
            j += 1
        out.append(decision)
        self.steps_seen = True
        return j

    def _items(self, blocks: list[Block], i: int, ctx: Context, out: list[Node]) -> int:
        j = i
        while j < len(blocks) and blocks[j].kind == "item":
            item = blocks[j]
            text = clean_inline(item.text)
            if item.ordered and self.mode in ("symptoms", "info", "diagnosis"):
                self.mode = "steps"
            if self.mode == "diagnosis" and not item.ordered and item.checkbox is None and (
                not _has_steps([item])
            ):
                self._text(block_text(item).split(" ", 1)[-1], item.line)
                j += 1
                continue
            if (self.mode == "steps" and not self.steps_seen and not self.explicit_steps
                    and not item.ordered and item.checkbox is None and not _has_steps([item])):
                self.build.symptoms.append(block_text(item).split(" ", 1)[-1])
                j += 1
                continue
            if self.mode in ("symptoms", "info") and item.checkbox is None and not (
                item.ordered and _has_steps([item])
            ):
                body = block_text(item).split(" ", 1)[-1] if item.children else text
                self._text(body if item.children else text, item.line)
                j += 1
                continue
            nodes = self._item(item, ctx)
            if conditional(text) and nodes:
                question, _ = question_of(text)
                decision = Decision(question, item.line, [("yes", nodes)])
                if j + 1 < len(blocks) and blocks[j + 1].kind == "item" and otherwise(
                    clean_inline(blocks[j + 1].text)
                ):
                    decision.otherwise = self._item(blocks[j + 1], ctx)
                    j += 1
                nodes = [decision]
            out.extend(nodes)
            self.steps_seen = self.steps_seen or bool(nodes)
            j += 1
        return j

    def _item(self, item: Block, ctx: Context) -> list[Node]:
        title, rest = _item_title(item.text)
        if not item.children and not rest and re.search(r":(\*\*|__)?\s*$", item.text) and (
            item.checkbox is None and not inline_commands(item.text)
        ):
            ctx.title, ctx.used = title, False  # a label for what follows ("3. Common issues:")
            return []
        if conditional(title):
            _, consequence = question_of(title)
            title = consequence[:1].upper() + consequence[1:] if consequence else title
        if item.checkbox is not None:
            text = clean_inline(item.text)
            details = "\n".join(block_text(c) for c in item.children)
            return [Draft("manual", _first_sentence(text), item.line,
                          instructions=text + ("\n" + details if details else ""))]
        commands = inline_commands(item.text)
        if not _has_steps(item.children) and not commands:
            details = "\n".join(block_text(c) for c in item.children)
            instructions = "\n".join(x for x in (clean_inline(rest), details) if x)
            return [Draft("manual", title, item.line, instructions=instructions or title)]
        nodes: list[Node] = []
        inner = Context(title)
        for command in commands:
            entry = Entry("command", item.line, command)
            nodes.extend(command_nodes(entry, [], self.build, inner))
        saved = self.mode
        self.mode = "steps"
        nodes.extend(self.nodes(item.children, inner))
        self.mode = saved
        if not nodes:
            nodes = [Draft("manual", title, item.line, instructions=clean_inline(item.text))]
        return nodes

    # -- lettered alternatives ---------------------------------------------------------

    def _branch_run(self, blocks: list[Block], i: int) -> int | None:
        """The end of a run of lettered alternatives starting at ``i`` (None if only one)."""
        letters = []
        j = i
        level = blocks[i].level if blocks[i].kind == "heading" else 0
        while j < len(blocks):
            b = blocks[j]
            higher = level == 0 or b.level <= level
            if b.kind == "heading" and higher and not branch_letter(b.text):
                break
            lab = label_of(b) if b.kind == "para" else None
            if lab is not None and part_kind(lab[0]) and j > i:
                break
            letter = branch_letter(b.text) if b.kind == "heading" else (
                branch_letter(lab[0]) if lab else ""
            )
            if letter and (b.kind == "heading") == (blocks[i].kind == "heading"):
                letters.append(letter)
            j += 1
        return j if len(letters) >= 2 else None

    def _branches(self, blocks: list[Block], ctx: Context) -> Decision:
        first = blocks[0]
        groups: list[tuple[str, int, list[Block]]] = []
        for b in blocks:
            lab = label_of(b) if b.kind == "para" else None
            name = b.text if b.kind == "heading" else (lab[0] if lab else "")
            if name and branch_letter(name) and (b.kind == "heading") == (first.kind == "heading"):
                groups.append((clean_inline(name), b.line, []))
                if lab and lab[1]:
                    groups[-1][2].append(Block("para", b.line, b.line, text=lab[1]))
            elif groups:
                groups[-1][2].append(b)
        branches: list[tuple[str, list[Node]]] = []
        for name, line, body in groups:
            saved = self.mode
            self.mode = "steps"
            nodes = self.nodes(body, Context(name))
            self.mode = saved
            if not nodes:
                nodes = [Draft("manual", name, line, instructions=name)]
            branches.append((name, nodes))
        question = f"{ctx.title}: which one applies?" if ctx.title else "Which of these applies?"
        self.steps_seen = True
        return Decision(question, first.line, branches, otherwise_label="none of these",
                        title=ctx.title or "Which case applies?")


def _first_sentence(text: str) -> str:
    m = re.match(r"^(.{8,90}?[.!?])(\s|$)", text)
    first = m.group(1) if m else text
    return first if len(first) <= 90 else first[:89] + "…"
