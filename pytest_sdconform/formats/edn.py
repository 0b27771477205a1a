"""A small reader and writer for the subset of EDN (Clojure data notation) that histories use.

Supported: nil, true, false, integers, floats, strings, keywords, symbols, vectors,
lists, maps and sets; `;` comments; commas as whitespace. Tagged literals other than
sets (`#{...}`) are not needed by any history format and are rejected.
"""

from __future__ import annotations

import re
from typing import Any


class Keyword(str):
    """An EDN keyword such as ``:invoke``; equal to its name as a plain string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + str(self)


class EdnError(ValueError):
    def __init__(self, message: str, line: int):
        self.line = line
        super().__init__(message)


_TOKEN = re.compile(
    r"""(?P<ws>[\s,]+|;[^\n]*)
      |(?P<str>"(?:[^"\\]|\\.)*")
      |(?P<open>\#\{|[\[{(])
      |(?P<close>[\]})])
      |(?P<atom>[^\s,\[\]{}()";]+)""",
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}


def _atom(text: str, line: int) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text[0] == ":":
        return Keyword(text[1:])
    if _INT.fullmatch(text):
        return int(text.rstrip("N"))
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("M"))
    if text[0] == "#":
        raise EdnError(f"unsupported tagged literal {text!r}", line)
    return text  # a symbol: keep its name


def _string(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", _unescape, body)


def _unescape(m: re.Match[str]) -> str:
    s = m.group(1)
    if s[0] == "u" and len(s) == 5:
        return chr(int(s[1:], 16))
    return _ESCAPES.get(s, s)


def _finish(opener: str, items: list[Any], line: int) -> Any:
    if opener == "{":
        if len(items) % 2:
            raise EdnError("a map needs an even number of forms", line)
        return {_hashable(items[i]): items[i + 1] for i in range(0, len(items), 2)}
    if opener == "#{":
        return frozenset(_hashable(x) for x in items)
    return items  # vectors and lists both become Python lists


def _hashable(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_hashable(y) for y in x)
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    return x


def loads_all(text: str) -> list[tuple[Any, int]]:
    """Every top-level form in ``text``, each with the line it starts on."""
    forms: list[tuple[Any, int]] = []
    stack: list[tuple[str, list[Any], int]] = []
    line = 1
    pos = 0
    n = len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            raise EdnError(f"unexpected character {text[pos]!r}", line)
        kind = m.lastgroup
        tok = m.group()
        start_line = line
        line += tok.count("\n")
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "open":
            stack.append((tok, [], start_line))
            continue
        if kind == "close":
            if not stack:
                raise EdnError(f"unbalanced {tok!r}", start_line)
            opener, items, open_line = stack.pop()
            if _CLOSERS[opener] != tok:
                raise EdnError(f"{opener!r} opened on line {open_line} closed by {tok!r}", line)
            value: Any = _finish(opener, items, start_line)
            form_line = open_line
        elif kind == "str":
            value, form_line = _string(tok), start_line
        else:
            value, form_line = _atom(tok, start_line), start_line
        if stack:
            stack[-1][1].append(value)
        else:
            forms.append((value, form_line))
    if stack:
        opener, _, open_line = stack[-1]
        raise EdnError(f"{opener!r} opened on line {open_line} is never closed", line)
    return forms


def dumps(x: Any) -> str:
    """EDN text for a Python value: str -> string, Keyword -> keyword, list/tuple -> vector."""
    if x is None:
        return "nil"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, Keyword):
        return ":" + str(x)
    if isinstance(x, str):
        return '"' + x.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(x, int | float):
        return repr(x)
    if isinstance(x, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in x.items()) + "}"
    if isinstance(x, frozenset | set):
        return "#{" + " ".join(dumps(v) for v in x) + "}"
    if isinstance(x, list | tuple):
        return "[" + " ".join(dumps(v) for v in x) + "]"
    return dumps(str(x))
