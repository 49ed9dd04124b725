"""Turn parsed TOML into frozen dataclasses, with errors that name the key.

The config dataclasses in :mod:`core.config` describe the file; this module
walks one of them against a parsed TOML table and either builds the instance
or raises :class:`SchemaError` naming the key path, what was found and what
was expected.  Unknown keys get a "did you mean" from the known ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


class TomlError(ValueError):
    """TOML text that cannot be parsed: ``reason`` and, when known, its ``line``."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


_TOML_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_toml(text: str) -> dict[str, Any]:
    """The table of TOML ``text``; :class:`TomlError` for anything tomllib refuses."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        reason = _TOML_LINE_RE.sub("", str(exc)).strip()
        raise TomlError(f"TOML syntax error: {reason}",
                        int(match.group(1)) if match else None) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise TomlError("TOML nested too deeply") from None


class SchemaError(ValueError):
    """A value in a table does not fit the schema.

    ``path`` is the dotted key path (``hosts[1].docker.socket``), ``message``
    says what was wrong and what was expected.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (tuple, list):
        return f"a list of {_type_name(get_args(tp)[0]).removeprefix('a ')}s"
    if origin in (dict, Mapping):
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    return str(tp)


def _found(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        errors: list[SchemaError] = []
        for option in options:
            try:
                return _convert(option, value, path)
            except SchemaError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise SchemaError(path, f"expected {_type_name(tp)}, found {_found(value)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise SchemaError(path, f"expected {_type_name(tp)}, found {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected true or false, found {_found(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"expected an integer, found {_found(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(path, f"expected a number, found {_found(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise SchemaError(path, "expected a number, found one too large") from None
        if not math.isfinite(number):  # TOML has nan and inf; no setting means them
            raise SchemaError(path, f"expected a finite number, found {value}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(path, f"expected a string, found {_found(value)}")
        if "\0" in value:  # no path, command or name can hold one
            raise SchemaError(path, "a string cannot contain a NUL character")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise SchemaError(path, f"expected {_type_name(tp)}, found {_found(value)}")
        item_type = get_args(tp)[0]
        return tuple(_convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise SchemaError(path, f"expected a table, found {_found(value)}")
        _, value_type = get_args(tp)
        return types.MappingProxyType(
            {str(k): _convert(value_type, v, _join(path, str(k))) for k, v in value.items()}
        )
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build(tp, value, path)
    raise TypeError(f"schema type {tp!r} is not supported")  # a bug in the schema, not the file


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class (it compiles every string annotation)."""
    return typing.get_type_hints(cls)


def build(cls: type[T], table: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from a parsed TOML ``table``.

    Raises :class:`SchemaError` for unknown keys (with a suggestion), missing
    required keys, values of the wrong type, and any ``ValueError`` the
    dataclass's ``__post_init__`` raises (reported at ``path``).
    """
    if not isinstance(table, dict):
        raise SchemaError(path, f"expected a table, found {_found(table)}")
    assert dataclasses.is_dataclass(cls)
    hints = _type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    forbidden: Mapping[str, str] = getattr(cls, "FORBIDDEN_KEYS", {})
    for key in table:
        if key in forbidden:
            raise SchemaError(_join(path, key), forbidden[key])
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(fields))
            raise SchemaError(_join(path, key), f"unknown key{hint}; known keys here: {known}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name in table:
            kwargs[name] = _convert(hints[name], table[name], _join(path, name))
        elif (
            field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        ):
            raise SchemaError(
                _join(path, name), f"missing required key (expected {_type_name(hints[name])})"
            )
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise SchemaError(path, str(exc)) from None
