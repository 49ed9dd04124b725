"""A small, quote-aware reader of POSIX shell command lines.

Not a shell: it splits a command line into simple commands (``a | b && c``),
their words (quotes removed) and redirections, pulls out command
substitutions (``$(...)``, backticks, ``<(...)``) and here-documents, so the
classifier can judge every program a line runs.  It never executes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_OPERATORS = ("&&", "||", "|&", ";;", "|", ";", "&", "(", ")")
_REDIRECTS = ("&>>", "<<<", "<<-", "&>", ">>", ">&", "<&", "<<", "<>", ">|", ">", "<")
_KEYWORDS_DROP = {"then", "else", "do", "{", "}", "!", "time", "fi", "done", "esac", "in"}
_KEYWORDS_COND = {"if", "elif", "while", "until"}
_KEYWORDS_SKIP_ALL = {"for", "select", "case", "function"}


@dataclass
class SimpleCommand:
    """One program invocation: its words, redirections and where its input comes from."""

    words: list[str]
    redirects: list[tuple[str, str]] = field(default_factory=list)
    stdin_pipe: bool = False
    heredoc: str | None = None
    condition_of: str = ""  # "while"/"until"/"if" when this is a loop or if condition


@dataclass
class Parsed:
    """Everything a command line runs."""

    commands: list[SimpleCommand]
    substitutions: list[str]
    errors: list[str]


@dataclass
class _Token:
    kind: str  # "word", "op", "redir", "newline"
    value: str
    heredoc_index: int = -1


def _read_balanced(text: str, i: int, open_ch: str = "(", close_ch: str = ")") -> int:
    """Index just past the ``close_ch`` matching the ``open_ch`` before ``i``."""
    depth = 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            end = text.find("'", i + 1)
            i = n if end == -1 else end + 1
            continue
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[_Token] = []
        self.subs: list[str] = []
        self.heredocs: list[str] = []
        self.errors: list[str] = []
        self._pending: list[tuple[int, str, bool]] = []  # (heredoc index, delimiter, strip tabs)
        self.unterminated = False

    def run(self) -> None:
        text, n = self.text, len(self.text)
        word: list[str] = []
        in_word = False
        i = 0

        def end_word() -> None:
            nonlocal word, in_word
            if in_word:
                self.tokens.append(_Token("word", "".join(word)))
            word = []
            in_word = False

        while i < n:
            ch = text[i]
            if ch in " \t\r":
                end_word()
                i += 1
            elif ch == "\n":
                end_word()
                self.tokens.append(_Token("newline", "\n"))
                i = self._read_heredocs(i + 1)
            elif ch == "\\":
                if i + 1 < n and text[i + 1] == "\n":
                    i += 2
                    continue
                if i + 1 < n:
                    word.append(text[i + 1])
                in_word = True
                i += 2
            elif ch == "'":
                end = text.find("'", i + 1)
                if end == -1:
                    self.errors.append("unclosed single quote")
                    end = n
                word.append(text[i + 1 : end])
                in_word = True
                i = end + 1
            elif ch == '"':
                i = self._double_quoted(i + 1, word)
                in_word = True
            elif ch == "`":
                end = text.find("`", i + 1)
                if end == -1:
                    self.errors.append("unclosed backquote")
                    end = n
                self.subs.append(text[i + 1 : end])
                word.append("$SUB")
                in_word = True
                i = end + 1
            elif ch == "$":
                i = self._dollar(i, word)
                in_word = True
            elif ch == "#" and not in_word:
                end = text.find("\n", i)
                i = n if end == -1 else end
            elif ch in "<>" and i + 1 < n and text[i + 1] == "(":
                end = _read_balanced(text, i + 2)
                self.subs.append(text[i + 2 : end - 1])
                word.append("/dev/fd/63")
                in_word = True
                i = end
            elif ch in "|&;()<>":
                fd = ""
                if in_word and ch in "<>" and word and "".join(word).isdigit():
                    fd = "".join(word)
                    word = []
                    in_word = False
                else:
                    end_word()
                for op in _REDIRECTS:
                    if text.startswith(op, i):
                        self.tokens.append(_Token("redir", fd + op))
                        i += len(op)
                        if op in ("<<", "<<-"):
                            i = self._heredoc_start(i, op == "<<-")
                        break
                else:
                    for op in _OPERATORS:
                        if text.startswith(op, i):
                            self.tokens.append(_Token("op", op))
                            i += len(op)
                            break
            else:
                word.append(ch)
                in_word = True
                i += 1
        end_word()

    def _double_quoted(self, i: int, word: list[str]) -> int:
        text, n = self.text, len(self.text)
        while i < n and text[i] != '"':
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                if text[i + 1] != "\n":
                    word.append(text[i + 1])
                i += 2
            elif ch == "$":
                i = self._dollar(i, word)
            elif ch == "`":
                end = text.find("`", i + 1)
                end = n if end == -1 else end
                self.subs.append(text[i + 1 : end])
                word.append("$SUB")
                i = end + 1
            else:
                word.append(ch)
                i += 1
        if i >= n:
            self.errors.append("unclosed double quote")
        return i + 1

    def _dollar(self, i: int, word: list[str]) -> int:
        text = self.text
        if text.startswith("$((", i):
            word.append("0")
            return _read_balanced(text, i + 2)
        if text.startswith("$(", i):
            end = _read_balanced(text, i + 2)
            self.subs.append(text[i + 2 : end - 1])
            word.append("$SUB")
            return end
        if text.startswith("${", i):
            end = _read_balanced(text, i + 2, "{", "}")
            word.append(text[i:end])
            return end
        word.append("$")
        return i + 1

    def _heredoc_start(self, i: int, strip: bool) -> int:
        text, n = self.text, len(self.text)
        while i < n and text[i] in " \t":
            i += 1
        start = i
        while i < n and text[i] not in " \t\n;|&<>()":
            i += 1
        delim = text[start:i].replace("'", "").replace('"', "").replace("\\", "")
        self.heredocs.append("")
        self.tokens.append(_Token("word", delim, heredoc_index=len(self.heredocs) - 1))
        self._pending.append((len(self.heredocs) - 1, delim, strip))
        return i

    def _read_heredocs(self, i: int) -> int:
        text, n = self.text, len(self.text)
        for index, delim, strip in self._pending:
            body: list[str] = []
            found = False
            while i < n:
                end = text.find("\n", i)
                end = n if end == -1 else end
                line = text[i:end]
                i = end + 1
                if (line.lstrip("\t") if strip else line) == delim:
                    found = True
                    break
                body.append(line)
            self.unterminated = self.unterminated or not found
            self.heredocs[index] = "\n".join(body)
        self._pending = []
        return i


def parse_shell(text: str) -> Parsed:
    """Split ``text`` into the simple commands it runs (substitutions parsed too)."""
    lexer = _Lexer(text)
    lexer.run()
    commands: list[SimpleCommand] = []
    current = SimpleCommand([])
    pipe_next = False
    tokens = lexer.tokens
    i = 0

    def finish() -> None:
        nonlocal current
        if current.words or current.redirects:
            commands.append(current)
        current = SimpleCommand([])

    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "word":
            if not current.words and not current.redirects:
                current.stdin_pipe = pipe_next
                pipe_next = False
                if tok.value in _KEYWORDS_SKIP_ALL:
                    while i < len(tokens) and not (
                        tokens[i].kind == "newline" or tokens[i].value in (";", "&&", "||")
                    ):
                        i += 1
                    continue
                if tok.value in _KEYWORDS_COND:
                    current.condition_of = tok.value
                    i += 1
                    continue
                if tok.value in _KEYWORDS_DROP:
                    i += 1
                    continue
            current.words.append(tok.value)
        elif tok.kind == "redir":
            target = ""
            if i + 1 < len(tokens) and tokens[i + 1].kind == "word":
                nxt = tokens[i + 1]
                target = nxt.value
                if nxt.heredoc_index >= 0:
                    current.heredoc = lexer.heredocs[nxt.heredoc_index]
                i += 1
            if tok.value.endswith("<<<"):
                current.heredoc = target
            current.redirects.append((tok.value.lstrip("0123456789"), target))
        else:
            finish()
            if tok.value in ("|", "|&"):
                pipe_next = True
        i += 1
    finish()
    subs = list(lexer.subs)
    errors = list(lexer.errors)
    for sub in lexer.subs:
        inner = parse_shell(sub)
        commands.extend(inner.commands)
        subs.extend(inner.substitutions)
        errors.extend(inner.errors)
    return Parsed(commands, subs, errors)


def is_complete(text: str) -> bool:
    """True when ``text`` is a whole command: no open quote, bracket, loop or continuation.

    Used to join the lines of a multi-line command in a code block.
    """
    stripped = text.rstrip()
    if stripped.endswith(("\\", "|", "&&", "||")):
        return False
    lexer = _Lexer(text + "\n")
    lexer.run()
    if lexer.errors or lexer._pending or lexer.unterminated:
        return False
    depth = 0
    paren = 0
    for tok in lexer.tokens:
        if tok.kind == "word" and tok.heredoc_index < 0:
            if tok.value in ("if", "case") or tok.value in ("do",):
                depth += 1
            elif tok.value in ("fi", "esac", "done"):
                depth -= 1
            elif tok.value == "{":
                depth += 1
            elif tok.value == "}":
                depth -= 1
        elif tok.kind == "op":
            if tok.value == "(":
                paren += 1
            elif tok.value == ")":
                paren -= 1
    return depth <= 0 and paren <= 0
