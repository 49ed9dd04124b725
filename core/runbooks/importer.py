"""Import Markdown runbooks: one warroom runbook per incident or procedure section.

:func:`import_markdown` repairs mis-decoded text, reads the heading tree
(:mod:`core.runbooks.mdsections`), turns each procedure section into steps
(:mod:`core.runbooks.mdflow`, :mod:`core.runbooks.mdcode`), and returns an
:class:`ImportResult` with the runbooks, every fragment it could not map
(with its lines), the sections it skipped on purpose, and warnings (secrets
removed, severities clamped, text repaired).  :func:`write_runbooks` writes
the runbooks as TOML with tomli-w.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.config import SeverityConfig
from core.runbooks.markdown import Block, clean_inline, parse_markdown
from core.runbooks.mdcode import GUESS_LANGS, SHELL_LANGS, looks_like_shell
from core.runbooks.mddraft import (
    Build,
    Draft,
    Fragment,
    Warning_,
    choice_targets,
    flatten,
    slug,
    wire,
)
from core.runbooks.mdflow import Flow, inline_commands
from core.runbooks.mdsections import (
    Section,
    build_sections,
    hard_skip,
    is_substep,
    is_toc_list,
    normalize,
    number_of,
    part_kind,
    soft_skip,
    strip_symbols,
)
from core.runbooks.mdseverity import SeverityReader, strip_heading_marker
from core.runbooks.model import Choice, Expect, Runbook, Step, Variable
from core.runbooks.mojibake import describe, repair
from core.runbooks.placeholders import mask_secrets
from core.runbooks.symptoms import signals_in
from core.runbooks.validate import analyze
from core.runbooks.writer import dumps, write_runbook

__all__ = ["Fragment", "ImportResult", "ImportedRunbook", "Warning_", "import_markdown",
           "write_runbooks"]


@dataclass(frozen=True)
class ImportedRunbook:
    """A runbook made from one section, with where each of its steps came from."""

    runbook: Runbook
    line: int
    end: int
    severity_stated: str
    step_lines: tuple[int, ...]
    originals: tuple[str, ...]


@dataclass(frozen=True)
class ImportResult:
    """What importing one Markdown document gave."""

    source: str
    runbooks: tuple[ImportedRunbook, ...]
    unmapped: tuple[Fragment, ...]
    skipped: tuple[Fragment, ...]
    warnings: tuple[Warning_, ...]


def _procedure(blocks: list[Block]) -> bool:
    for block in blocks:
        for b in block.walk():
            if b.kind == "fence" and any(code.strip() for _, code in b.code):
                return True
            if b.kind == "item" and (
                b.ordered or b.checkbox is not None or inline_commands(b.text)
            ):
                return True
            if b.kind == "para" and inline_commands(b.text, 2):
                return True
            if b.kind == "table" and any(inline_commands(" ".join(r), 2) for r in b.rows[1:]):
                return True
    return False


def _shell(blocks: list[Block]) -> bool:
    for block in blocks:
        for b in block.walk():
            if b.kind == "fence" and (b.lang in SHELL_LANGS or (
                b.lang in GUESS_LANGS and looks_like_shell(b.code)
            )):
                return True
    return False


_COLLECTION = re.compile(
    r"(runbooks?|playbooks?|incidents?|procedures|issues|problems|scenarios|emergenc|common|"
    r"troubleshooting|operations|handbook|störungen|vorfälle|verfahren|szenarien|notfälle|"
    r"betrieb|probleme|incidents|procédures)"
)


def _title(raw: str) -> str:
    text = clean_inline(strip_symbols(raw)).strip()
    text = strip_heading_marker(text)
    text = re.sub(r"^(\d+(?:\.\d+)*[.)]?|[A-Za-z][.)])\s+", "", text)
    text = re.sub(
        r"(?i)^(incident|runbook|playbook|procedure|szenario|störung|vorfall)\s*[:–—-]\s+", "", text
    )
    return text.strip(" :-–—") or raw.strip()


class _Importer:
    def __init__(self, text: str, source: str, scheme: SeverityConfig) -> None:
        self.source = source
        self.scheme = scheme
        self.text = text
        self.reader = SeverityReader(text, scheme)
        self.candidates: list[tuple[Section, list[Block], str]] = []
        self.unmapped: list[Fragment] = []
        self.skipped: list[Fragment] = []
        self.warnings: list[Warning_] = []
        self.h1_count = 0

    # -- which sections are runbooks -----------------------------------------------------

    def _role(self, child: Section, parent: Section) -> str:
        if hard_skip(child.title):
            return "skip"
        if is_substep(child.title, parent.title):
            return "substep"
        if number_of(child.title) and parent.level > 0 and not (
            parent.level == 1 and self.h1_count == 1
        ) and not _COLLECTION.search(normalize(parent.title)):
            return "substep"  # "### 1. Check logs" under an incident heading
        if part_kind(child.title):
            return "part"
        return "independent"

    def _skip(self, section: Section, reason: str) -> None:
        self.skipped.append(Fragment(section.line, section.end, reason, _title(section.title)))

    def _leftover(self, blocks: list[Block], where: str) -> None:
        for block in blocks:
            if block.kind in ("rule",):
                continue
            excerpt = block.text or " | ".join(block.rows[0] if block.rows else [])
            if block.kind == "fence":
                excerpt = " ".join(code for _, code in block.code[:2])
            self.unmapped.append(Fragment(block.line, block.end, where, excerpt[:70]))

    def collect(self, section: Section, root: bool = False) -> None:
        if not root:
            reason = hard_skip(section.title)
            if not reason and not section.children and is_toc_list(section.blocks):
                reason = "table of contents"
            if reason:
                self._skip(section, reason)
                return
        roles = [(child, self._role(child, section)) for child in section.children]
        independent = [child for child, role in roles if role == "independent"]
        if not root and not independent:
            blocks = list(section.blocks)
            for child, role in roles:
                if role == "skip":
                    self._skip(child, hard_skip(child.title))
                    continue
                if child.heading is not None:
                    blocks.append(child.heading)
                blocks.extend(child.all_blocks())
            soft = soft_skip(section.title)
            if soft and not _shell(blocks):
                self._skip(section, soft)
            elif _procedure(blocks):
                self.candidates.append((section, blocks, _title(section.title)))
            elif blocks:
                self.unmapped.append(Fragment(section.line, section.end,
                                              "no steps in this section: not a procedure",
                                              _title(section.title)))
            return
        own = list(section.blocks)
        first = next((k for k, (_, r) in enumerate(roles) if r == "independent"), len(roles))
        for child, role in roles[:first]:  # steps and parts before the first independent child
            if role == "skip":
                self._skip(child, hard_skip(child.title))
                continue
            if child.heading is not None:
                own.append(child.heading)
            own.extend(child.all_blocks())
        if own:
            if root and not section.children and _procedure(own):
                name = Path(self.source).stem if self.source != "<stdin>" else "Imported runbook"
                self.candidates.append((section, own, _title(name.replace("_", " "))))
            elif not root and _procedure(own) and not soft_skip(section.title):
                self.candidates.append((section, own, _title(section.title)))
            elif root:
                self._leftover(own, "text before the first heading")
            else:
                self._leftover(own, f"introduction of section “{_title(section.title)}”")
        for child, _ in roles[first:]:
            self.collect(child)

    # -- one runbook ------------------------------------------------------------------------

    def runbook(self, section: Section, blocks: list[Block], title: str,
                taken: set[str]) -> ImportedRunbook | None:
        build = Build(self.source, title, self.reader, line=section.line)
        heading_marker = self.reader.heading(section.title) if section.title else None
        flow = Flow(build)
        nodes = flow.nodes(blocks)
        drafts = flatten(nodes)
        self.unmapped.extend(build.unmapped)
        self.warnings.extend(build.warnings)
        if not drafts:
            self.unmapped.append(Fragment(section.line, section.end, "no steps could be made",
                                          title))
            return None
        ids: set[str] = set()
        for n, draft in enumerate(drafts, 1):
            base = slug(draft.title or draft.question) or f"step-{n}"
            candidate, k = base, 2
            while candidate in ids or candidate == "end":
                candidate, k = f"{base}-{k}", k + 1
            draft.id = candidate
            ids.add(candidate)
        wire(drafts)
        steps = [self._step(d, build) for d in drafts]
        markers = ([heading_marker] if heading_marker else []) + build.markers
        markers.sort(key=lambda m: -m.strength)  # stable: the first of the strongest wins
        severity = markers[0].ordinal if markers else None
        stated = markers[0].text if markers else ""
        for marker in markers[:1]:
            if marker.note:
                self.warnings.append(Warning_(section.line, marker.note))
        description = self._description(build)
        match = signals_in("\n".join([title, *build.symptoms, *build.diagnosis]))
        base_id = slug(title, 48) or f"runbook-{section.line}"
        rb_id, k = base_id, 2
        while rb_id in taken:
            rb_id, k = f"{base_id}-{k}", k + 1
        taken.add(rb_id)
        variables = {
            name: Variable(description=spec.description, ask=True, secret=spec.secret,
                           example="" if spec.secret else spec.example)
            for name, spec in build.variables.items()
        }
        runbook = Runbook(
            id=rb_id,
            title=self._mask(title, section.line),
            steps=tuple(steps),
            description=description,
            severity=severity,
            match=tuple(match),
            variables=variables,
            imported_from=f"{self.source}:{section.line}",
        )
        _, problems = analyze(dumps(runbook), f"{rb_id}.toml")
        errors = [p for p in problems if p.level == "error"]
        if errors:
            self.warnings.append(Warning_(section.line, f"runbook {rb_id!r} was not imported: "
                                          + "; ".join(str(p) for p in errors[:3])))
            return None
        return ImportedRunbook(runbook, section.line, section.end, stated,
                               tuple(d.line for d in drafts), tuple(d.original for d in drafts))

    def _mask(self, text: str, line: int) -> str:
        masked, removed = mask_secrets(text)
        for what in removed:
            self.warnings.append(Warning_(line, f"a clear-text secret ({what}) was removed "
                                          "from the text"))
        return masked

    def _step(self, draft: Draft, build: Build) -> Step:
        title = self._mask(draft.title, draft.line).strip()
        title = title if len(title) <= 100 else title[:99] + "…"
        choices = tuple(Choice(self._mask(label, draft.line)[:80], target)
                        for label, target in choice_targets(draft))
        timeout = draft.timeout or 60.0
        return Step(
            id=draft.id,
            kind=draft.kind,  # type: ignore[arg-type]
            title=title,
            why=self._mask(draft.why, draft.line),
            instructions=self._mask(draft.instructions, draft.line),
            command=draft.command,
            runner=draft.runner,  # type: ignore[arg-type]
            workdir=draft.workdir if draft.kind in ("check", "action") else "",
            host=draft.host if draft.kind in ("check", "action") else "",
            timeout=timeout,
            expect=Expect(**draft.expect) if draft.expect else None,
            destructive=draft.destructive,
            confirm=draft.confirm,
            question=self._mask(draft.question, draft.line),
            choices=choices,
            next=draft.next,
        )

    def _description(self, build: Build) -> str:
        parts: list[str] = []
        if build.intro:
            parts.append("\n".join(build.intro))
        if build.symptoms:
            parts.append("Symptoms:\n" + "\n".join(f"- {s}" for s in build.symptoms))
        if build.diagnosis:
            parts.append("Diagnosis:\n" + "\n".join(f"- {s}" for s in build.diagnosis))
        if build.notes:
            parts.append("Notes:\n" + "\n".join(f"- {n}" for n in build.notes))
        return self._mask("\n\n".join(parts), build.line)

    def run(self) -> ImportResult:
        fixed, repairs = repair(self.text)
        if repairs:
            self.warnings.append(Warning_(repairs[0].line, describe(repairs)))
        self.text = fixed
        self.reader = SeverityReader(fixed, self.scheme)
        root = build_sections(parse_markdown(fixed))
        self.h1_count = sum(1 for child in root.children if child.level == 1)
        self.collect(root, root=True)
        taken: set[str] = set()
        made: list[ImportedRunbook] = []
        for section, blocks, title in self.candidates:
            imported = self.runbook(section, blocks, title, taken)
            if imported is not None:
                made.append(imported)
        self.unmapped.sort(key=lambda f: f.line)
        self.warnings.sort(key=lambda w: w.line or 0)
        return ImportResult(self.source, tuple(made), tuple(self.unmapped), tuple(self.skipped),
                            tuple(self.warnings))


def import_markdown(
    text: str, source_name: str = "<stdin>", scheme: SeverityConfig | None = None
) -> ImportResult:
    """Import the Markdown runbook ``text`` (named ``source_name`` in ids and messages)."""
    return _Importer(text, source_name, scheme or SeverityConfig()).run()


def write_runbooks(result: ImportResult, out_dir: Path | str) -> list[Path]:
    """Write each runbook of ``result`` to ``OUT_DIR/ID.toml`` (atomically); the paths written."""
    target = Path(out_dir).expanduser()
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} is not a directory")
    return [write_runbook(item.runbook, target / f"{item.runbook.id}.toml")
            for item in result.runbooks]


def normalized_title(title: str) -> str:
    """The heading as the section classifier sees it (for tests and messages)."""
    return normalize(title)
