"""Headings of a Markdown runbook: which sections are runbooks, parts, sub-steps or skipped.

The heading tree decides what becomes a runbook: a section whose child
headings are only *parts* ("Symptoms", "Resolution", "Schritte") or
*sub-steps* ("Step 2: …", "A. …", "2.1 …") is one runbook; a section with
other child headings is a container whose children are looked at in turn.
Tables of contents, contact lists, changelogs and report templates are
never runbooks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from core.runbooks.markdown import Block

_NUMBER_PREFIX = re.compile(
    r"^\s*(?:(?:step|schritt|étape|etape|paso|phase|stage|stufe|teil)\s*\d+[a-z]?\s*[:.)–—-]?|"
    r"\d+(?:\.\d+)*[.)]?|[A-Za-z][.)]|\(\w\))\s+",
    re.I,
)

_HARD_SKIP = [
    ("table of contents", re.compile(
        r"^(table of contents|contents|toc|index|inhalt|inhaltsverzeichnis|sommaire|"
        r"table des matières|índice|indice)$")),
    ("contacts", re.compile(
        r"^((emergency|escalation|support|key|team|important)\s+)?contacts?(\s+(list|table|info))?$|"
        r"^(kontakte?|ansprechpartner\w*|notfallkontakte|rufbereitschaft|who to call|"
        r"on-?call(\s+(contacts|rotation|schedule))?)$")),
    ("changelog", re.compile(
        r"(change\s?log|revision history|version history|document history|änderungshistorie|"
        r"änderungsprotokoll|versionshistorie|^history$|^changes$|^änderungen$|^historique$)")),
    ("report template", re.compile(
        r"(template|vorlage|modèle|post-?mortem|post-?incident|incident report|retrospective|"
        r"lessons learned|nachbetrachtung)")),
]
_SOFT_SKIP = [
    ("severity definitions", re.compile(
        r"^(incident\s+)?(severity|priority|sev)(\s+(levels?|matrix|definitions?|scale))?$|"
        r"^(schweregrade?|prioritäten|escalation matrix|eskalationsmatrix)$")),
    ("overview", re.compile(
        r"^(overview|introduction|intro|about( this (runbook|document))?|summary|purpose|scope|"
        r"environment|architecture|übersicht|überblick|einleitung|einführung|zweck|umgebung|"
        r"architektur|aperçu|présentation|introducción|resumen)$")),
    ("reference", re.compile(
        r"(\btools|\blinks|resources|references|glossary|further reading|see also|^faq$|"
        r"werkzeuge|glossar|weiterführende)$")),
]

PART_KINDS = {
    "symptoms": re.compile(
        r"^(symptoms?|signs?|indicators?|detection|how to detect|what you see|triggers?|alerts?|"
        r"when to use( this)?|use when|when|wann|quand|cuándo|symptome|anzeichen|erkennung|"
        r"auslöser|"
        r"symptômes|signes|síntomas)$"),
    "info": re.compile(
        r"^(impact|notes?|background|context|root cause|causes?|prerequisites|requirements|"
        r"before you start|escalation|escalate|prevention|owner|responsibles?|auswirkung|"
        r"ursachen?|hinweise?|hintergrund|voraussetzungen|eskalation|vorbeugung|prävention|"
        r"remarques?|prérequis|causa)$"),
    "diagnosis": re.compile(
        r"^(diagnos(is|e|tics)|investigat(e|ion)|triage|analyse|analysis|untersuchung|"
        r"diagnostic|diagnóstico)$"),
    "steps": re.compile(
        r"^(troubleshooting|checks?|resolution|"
        r"resolve|remediation|fix(es)?|mitigation|mitigate|actions?|steps?|procedure|"
        r"solutions?|recovery|workaround|verification|verify|validation|validate|post-?checks?|"
        r"rollback|roll back|undo|prüfung|überprüfung|verifizierung|kontrolle|lösung|"
        r"behebung|maßnahmen|massnahmen|schritte|vorgehen|vorgehensweise|wiederherstellung|"
        r"sofortmaßnahmen|diagnostic|résolution|étapes|vérification|solución|pasos|"
        r"verificación)((\s+and\s+|\s*&\s*|\s*/\s*|\s+und\s+)\w+)?(\s+(steps|checks|schritte))?$"),
}
_SUBSTEP = re.compile(
    r"^\s*((step|schritt|étape|etape|paso|phase|stage|stufe)\s*\d+|[A-Za-z][.)]\s|"
    r"(option|variante|fall|case|scenario|szenario|alternative)\s+[A-Z0-9]\b)",
    re.I,
)


def strip_symbols(text: str) -> str:
    """``text`` without emoji and pictographs (and the joiners that glue them)."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("So", "Sk", "Cs", "Co") or ch in "\ufe0f\ufe0e\u200d\u20e3":
            continue
        out.append(ch)
    return "".join(out)


def normalize(title: str) -> str:
    """A heading reduced for matching: no emoji, numbering, markup or trailing colon; lowercase."""
    text = strip_symbols(title).replace("**", "").replace("__", "").replace("`", "")
    text = _NUMBER_PREFIX.sub("", text)
    text = re.sub(r"\s+", " ", text).strip(" :.-–—").casefold()
    return text


def strip_number(title: str) -> str:
    """A heading without its leading numbering ("1.2 Promote" → "Promote")."""
    return _NUMBER_PREFIX.sub("", title.strip(), count=1).strip() or title.strip()


def number_of(title: str) -> str:
    """The leading number of a heading ("2.1" of "2.1 Check logs"), or ""."""
    m = re.match(r"^\s*(\d+(?:\.\d+)*)[.)]?\s", strip_symbols(title).strip() + " ")
    return m.group(1) if m else ""


@dataclass
class Section:
    """A heading and what is under it."""

    title: str
    level: int
    line: int
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    heading: Block | None = None

    @property
    def end(self) -> int:
        """The last line of the section, its children included."""
        last = self.line
        for block in self.blocks:
            last = max(last, block.end)
        for child in self.children:
            last = max(last, child.end)
        return last

    def all_blocks(self) -> list[Block]:
        """Own blocks, then each child's heading and blocks, in document order."""
        out = list(self.blocks)
        for child in self.children:
            if child.heading is not None:
                out.append(child.heading)
            out.extend(child.all_blocks())
        return out


def build_sections(blocks: list[Block]) -> Section:
    """The heading tree of a document (the root has level 0 and no heading)."""
    root = Section("", 0, 1)
    stack = [root]
    for block in blocks:
        if block.kind == "heading":
            while stack[-1].level >= block.level:
                stack.pop()
            section = Section(block.text, block.level, block.line, heading=block)
            stack[-1].children.append(section)
            stack.append(section)
        else:
            stack[-1].blocks.append(block)
    return root


def hard_skip(title: str) -> str:
    """Why a section with this heading is never a runbook ("" if it may be one)."""
    name = normalize(title)
    for reason, pattern in _HARD_SKIP:
        if pattern.search(name):
            return reason
    return ""


def soft_skip(title: str) -> str:
    """Why a section is not a runbook unless it holds shell commands ("" if no reason)."""
    name = normalize(title)
    for reason, pattern in _SOFT_SKIP:
        if pattern.search(name):
            return reason
    return ""


def part_kind(title: str) -> str:
    """``symptoms``, ``info`` or ``steps`` for a heading or label that names a part of a runbook."""
    name = normalize(title)
    if len(name.split()) > 4:
        return ""
    for kind, pattern in PART_KINDS.items():
        if pattern.match(name):
            return kind
    return ""


def is_substep(title: str, parent_title: str = "") -> bool:
    """True for "Step 2: …", "A. …", "Option B", or "2.1 …" under a heading numbered "2"."""
    text = strip_symbols(title).replace("**", "").strip()
    if _SUBSTEP.match(text):
        return True
    child, parent = number_of(title), number_of(parent_title)
    return bool(child and parent and child.startswith(parent + ".") and child != parent)


def branch_letter(label: str) -> str:
    """The letter of a branch label ("A. Database connection failed" → "A"), or ""."""
    m = re.match(r"^\s*(?:(?:option|variante|fall|case|scenario|szenario)\s+)?([A-Ha-h])[.):]\s+\S",
                 strip_symbols(label).replace("**", "").strip(), re.I)
    return m.group(1).upper() if m else ""


def is_toc_list(blocks: list[Block]) -> bool:
    """True when ``blocks`` are only a list of links to anchors (a table of contents)."""
    items = [b for block in blocks for b in block.walk() if b.kind == "item"]
    others = [b for b in blocks if b.kind not in ("item", "rule")]
    if not items or others:
        return False
    return all(re.fullmatch(r"\s*\[[^\]]+\]\(#[^)]*\)\s*", b.text) for b in items)


def is_contact_table(block: Block) -> bool:
    """True for a table whose header names contacts (e-mail, phone, contact, on call …)."""
    if block.kind != "table" or not block.rows:
        return False
    header = " ".join(block.rows[0]).casefold()
    return bool(
        re.search(r"e-?mail|phone|telefon|contact|kontakt|slack|on-?call|pager|mobil", header)
    )
