"""Babel extraction for our Python sources: the usual ``_()`` calls, plus the public
messages of domain errors, which reach pages as ``_(exc.public)`` / ``_(message)`` and so
are never written inside a ``_()`` call.

Besides what ``babel.messages.extract.extract_python`` finds, this yields:

- ``public = "..."`` class attributes (``idp.errors`` and subclasses);
- the first string argument of a call to a class (not a built-in exception) named
  ``*Error``, ``*Input``, ``*Failed``, ``*Refused``, ``*Expired``, ``*Locked``,
  ``*Attempts``, ``*Required`` or ``*IdNumber``
  (``raise InvalidInput("The name is empty.", field="name")``), and of
  ``super().__init__("...")`` inside such a class;
- the string values of enums named in ``PUBLIC_ENUMS`` (``idp.ids.Rule``: the rule an ID
  number broke, shown as "The ID number is not valid: <rule>.").

Named in babel.cfg's ``[extractors]`` section as ``python_public``, with ``scripts`` on the
Python path (``scripts/i18n.sh`` sets it).
"""

from __future__ import annotations

import ast
import builtins
import io
from collections.abc import Iterator
from typing import IO
from typing import Any

from babel.messages.extract import extract_python

SUFFIXES = (
    "Error",
    "Input",
    "Failed",
    "Refused",
    "Expired",
    "Locked",
    "Attempts",
    "Required",
    "IdNumber",
)
PUBLIC_ENUMS = {"Rule"}
# Errors whose text is for operators and logs, never a page.
NOT_PUBLIC = {name for name in dir(builtins) if name.endswith("Error")} | {
    "ConfigurationError",
    "UnsealError",
    "SingleProcessViolation",
}

# (line, function name, message, comments); babel itself also yields a trailing context.
Message = tuple[Any, ...]


def _first_string(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    for keyword in call.keywords:
        if keyword.arg == "public" and isinstance(keyword.value, ast.Constant):
            value = keyword.value.value
            return value if isinstance(value, str) else None
    return None


def _callee(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return ""


def _is_super_init(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "super"
    )


def _public_messages(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        error_class = cls.name.endswith(SUFFIXES)
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
                if isinstance(node.value.value, str) and (
                    "public" in names or (cls.name in PUBLIC_ENUMS and names)
                ):
                    yield node.lineno, node.value.value
            if error_class and isinstance(node, ast.Call) and _is_super_init(node):
                text = _first_string(node)
                if text:
                    yield node.lineno, text
    for node in ast.walk(tree):
        callee = _callee(node) if isinstance(node, ast.Call) else ""
        if isinstance(node, ast.Call) and callee.endswith(SUFFIXES) and callee not in NOT_PUBLIC:
            text = _first_string(node)
            if text:
                yield node.lineno, text


def extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[Message]:
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    seen: set[str] = set()
    for lineno, text in _public_messages(tree):
        if text.strip() and text not in seen:
            seen.add(text)
            yield lineno, None, text, []
