"""Nextflow config files as nested dicts (Nextflow itself is not needed).

``reftrace`` checks that a config parses but exposes only process selectors, not values,
``params``, ``profiles`` or ``withLabel`` scopes; this reader gives the structure the
static checks test: ``a.b = v`` and ``a { b = v }`` both become ``{"a": {"b": "v"}}``,
``withName: 'X' {...}`` / ``withLabel: 'X' {...}`` become keys ``"withName:X"`` /
``"withLabel:X"``, and ``includeConfig`` is followed (relative to the including file)
and merged in place. Values are kept as written (``'copy'``, ``{ 2.h * task.attempt }``);
:func:`groovy_literal` turns literals into Python and :func:`closure_body` opens a closure.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME_RE = re.compile(r"[A-Za-z_][\w.]*")
_SELECTOR_RE = re.compile(r"(withName|withLabel)\s*:\s*(['\"])(.*?)\2\s*\{", re.S)
_INCLUDE_RE = re.compile(r"includeConfig\s+(['\"])(.*?)\1")


def skip_string(text: str, i: int) -> int:
    """Index just past the string literal starting at ``text[i]``."""
    for quote in ('"""', "'''"):
        if text.startswith(quote, i):
            end = i + 3
            while True:
                end = text.find(quote, end)
                if end < 0:
                    return len(text)
                if text[end - 1] != "\\":
                    return end + 3
                end += 1
    quote = text[i]
    j = i + 1
    while j < len(text) and text[j] != quote:
        if text[j] == "\\":
            j += 1
        elif text[j] == "\n" and quote == "'":
            break
        j += 1
    return j + 1


def _skip_comment(text: str, i: int) -> int | None:
    """Index past the comment starting at ``text[i]``, or None when none starts there."""
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    if text.startswith("/*", i):
        end = text.find("*/", i)
        return len(text) if end < 0 else end + 2
    return None


def matching_brace(text: str, open_index: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_index`` (strings and comments skipped)."""
    depth, i = 0, open_index
    while i < len(text):
        c = text[i]
        if c in "\"'":
            i = skip_string(text, i)
            continue
        after_comment = _skip_comment(text, i)
        if after_comment is not None:
            i = after_comment
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced braces")


def statement_end(text: str, i: int) -> int:
    """End of the statement starting at ``i``: the first newline outside brackets and strings."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c in "\"'":
            i = skip_string(text, i)
            continue
        if text.startswith("//", i) or text.startswith("/*", i):
            if depth == 0 and text.startswith("//", i):
                return i
            i = _skip_comment(text, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "\n" and depth <= 0:
            return i
        i += 1
    return len(text)


def groovy_literal(value: str):
    """A Groovy literal (string, number, boolean, null) as Python; other expressions unchanged."""
    if value in ("null", ""):
        return None
    if value in ("true", "false"):
        return value == "true"
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def closure_body(value: str) -> str:
    """``{ expr }`` -> ``expr``; any other value unchanged."""
    value = value.strip()
    return value[1:-1].strip() if value.startswith("{") and value.endswith("}") else value


def merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, recursively for nested scopes (a new dict)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _assign(config: dict, dotted: str, value) -> None:
    *scopes, last = dotted.split(".")
    for name in scopes:
        config = config.setdefault(name, {})
    config[last] = merge(config[last], value) if isinstance(value, dict) and isinstance(config.get(last), dict) else value


def parse_config_text(text: str, base_dir: Path) -> dict:
    """The statements of a config body as a nested dict (see the module docstring)."""
    config: dict = {}
    i = 0
    while i < len(text):
        if text[i].isspace() or text[i] == ";":
            i += 1
            continue
        after_comment = _skip_comment(text, i)
        if after_comment is not None:
            i = after_comment
            continue
        selector = _SELECTOR_RE.match(text, i)
        include = _INCLUDE_RE.match(text, i)
        name = _NAME_RE.match(text, i)
        if selector:
            close = matching_brace(text, selector.end() - 1)
            key = f"{selector.group(1)}:{selector.group(3)}"
            _assign_key(config, key, parse_config_text(text[selector.end():close], base_dir))
            i = close + 1
        elif include:
            config = merge(config, parse_config_file(base_dir / include.group(2)))
            i = include.end()
        elif name and name.group() != "def":
            j = name.end()
            while j < len(text) and text[j] in " \t":
                j += 1
            if text.startswith("{", j):
                close = matching_brace(text, j)
                _assign(config, name.group(), parse_config_text(text[j + 1:close], base_dir))
                i = close + 1
            elif text.startswith("=", j) and not text.startswith("==", j):
                end = statement_end(text, j + 1)
                _assign(config, name.group(), text[j + 1:end].strip())
                i = end
            else:  # a call such as `id 'nf-schema@2.3.0'`: not a setting
                i = statement_end(text, j)
        else:  # `def x = ...` and anything else that is code, not a setting
            i = statement_end(text, i + 1)
    return config


def _assign_key(config: dict, key: str, value: dict) -> None:
    config[key] = merge(config.get(key, {}), value)


def parse_config_file(path) -> dict:
    """A config file with its ``includeConfig`` files merged in, as a nested dict."""
    path = Path(path)
    return parse_config_text(path.read_text(), path.parent)


def with_profiles(config: dict, profiles=()) -> dict:
    """The settings of ``config`` with each named profile applied in order (``-profile a,b``)."""
    known = config.get("profiles", {})
    out = {k: v for k, v in config.items() if k != "profiles"}
    for name in profiles:
        if name not in known:
            raise KeyError(f"no profile '{name}' (profiles: {', '.join(sorted(known))})")
        out = merge(out, known[name])
    return out


def selector_settings(process_scope: dict, kind: str, names) -> dict:
    """Settings of every ``withName``/``withLabel`` selector of ``process_scope`` matching one of
    ``names`` (regular expressions, as Nextflow matches them), later selectors over earlier ones."""
    found: dict = {}
    for key, value in process_scope.items():
        if key.startswith(f"{kind}:") and any(re.fullmatch(key.split(":", 1)[1], n) for n in names):
            found = merge(found, value)
    return found
