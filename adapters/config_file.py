"""Read and validate TOML configuration files; errors name file, line, key and reason.

Every problem pydantic finds is reported at once (``InvalidConfig.problems``),
each with the line of its key in the file where it can be found: tomllib
gives no positions, so ``key_lines`` reads the tables (``[queues.phone]``,
``[[queues.phone.rules]]`` by index) and ``key = `` lines itself.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from router.config import ConfigProblems, HelplineConfig, dotted
from router.errors import ConfigError

__all__ = [
    "InvalidConfig",
    "Problem",
    "find_line",
    "key_lines",
    "load_config",
    "load_model",
    "load_toml",
    "validate_model",
    "validation_problems",
]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of a configuration file: ``file:line: key: reason``."""

    file: str
    line: int | None
    key: str
    reason: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return ": ".join(p for p in (self.where, self.key, self.reason) if p)


class InvalidConfig(ConfigError):
    """A configuration file with one or more problems: all in ``problems``, the first in text."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.reason + more, file=first.where, key=first.key or None)
        self.file = first.file
        self.line = first.line
        self.problems = tuple(problems)


# ------------------------------------------------------------- key locator
def _key(text: str, i: int) -> tuple[list[str], int] | None:
    """The dotted key at ``text[i:]`` (bare or quoted parts) and where it ends."""
    parts: list[str] = []
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            end = text.find(text[i], i + 1)
            while end > 0 and text[i] == '"' and text[end - 1] == "\\":
                end = text.find('"', end + 1)
            if end < 0:
                return None
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            bare = _BARE.match(text, i)
            if bare is None:
                return None
            parts.append(bare.group())
            i = bare.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return parts, i


def _depth(value: str) -> int:
    """Brackets a value line opens and leaves open (strings and comments skipped)."""
    depth, i, quote = 0, 0, ""
    while i < len(value):
        c = value[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            break
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth


def key_lines(text: str) -> dict[Loc, int]:
    """The line (from 1) where each table and key of a TOML text is first written.

    An array of tables counts its elements: ``[[queues.phone.rules]]`` the
    second time is ``("queues", "phone", "rules", 1)``. Every prefix of a path
    is recorded too (at its first line), so ``queues`` is where the first
    ``[queues.*]`` table is.
    """
    out: dict[Loc, int] = {}
    table: Loc = ()
    arrays: dict[Loc, int] = {}  # array of tables -> index of its current element
    depth, string_end = 0, ""

    def record(path: Loc, n: int) -> None:
        for k in range(1, len(path) + 1):
            out.setdefault(path[:k], n)

    def resolve(parts: list[str]) -> Loc:
        path: Loc = ()
        for part in parts:
            path += (part,)
            if path in arrays:
                path += (arrays[path],)
        return path

    for n, line in enumerate(text.splitlines(), 1):
        if string_end:  # inside a multi-line string
            string_end = "" if string_end in line else string_end
            continue
        if depth > 0:  # inside a value that spans lines
            depth += _depth(line)
            continue
        s = line.strip()
        if s.startswith("[["):
            found = _key(s, 2)
            if found and s.startswith("]]", found[1]):
                path = (*resolve(found[0][:-1]), found[0][-1])
                arrays[path] = arrays.get(path, -1) + 1
                table = (*path, arrays[path])
                record(table, n)
        elif s.startswith("["):
            found = _key(s, 1)
            if found and s.startswith("]", found[1]):
                table = resolve(found[0])
                record(table, n)
        elif s and not s.startswith("#"):
            found = _key(s, 0)
            if found and s.startswith("=", found[1]):
                record((*table, *found[0]), n)
                value = s[found[1] + 1 :].strip()
                for quotes in ('"""', "'''"):
                    if value.startswith(quotes) and value.count(quotes) == 1:
                        string_end = quotes
                depth = 0 if string_end else _depth(value)
    return out


def find_line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc``, else of its nearest enclosing table or key that is written."""
    for k in range(len(loc), 0, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


# ---------------------------------------------------------------- validate
def _problems(exc: ValidationError, file: str, lines: dict[Loc, int]) -> list[Problem]:
    out: list[Problem] = []

    def add(loc: Loc, reason: str) -> None:
        out.append(Problem(file, find_line(lines, loc), dotted(loc) or "(top level)", reason))

    for err in exc.errors():
        loc: Loc = tuple(
            p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigProblems):
            for sub, why in cause.problems:
                add(loc + sub, why)
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        if loc[-1:] == ("[key]",):  # the name of a table, not its contents
            loc, msg = loc[:-1], f"not a valid name: {msg}"
        add(loc, msg)
    return out


def validation_problems(exc: ValidationError, file: str, text: str) -> list[Problem]:
    """Every problem of a ``ValidationError`` of data read from ``text``, with its line."""
    return _problems(exc, file, key_lines(text))


def validate_model(model: type[M], data: dict[str, Any], *, file: str, text: str = "") -> M:
    """Validate ``data`` (read from ``text``); its problems become one ``InvalidConfig``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfig(_problems(exc, file, key_lines(text))) from None


def load_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """A TOML file's data and text; ``ConfigError`` / ``InvalidConfig`` naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file ({exc.strerror})", file=str(path)) from None
    try:
        text = raw.decode("utf-8")
        return tomllib.loads(text), text
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        at = _TOML_AT.search(str(exc))
        line = int(at.group(1)) if at else None
        raise InvalidConfig([Problem(str(path), line, "", f"not valid TOML: {exc}")]) from None


def load_model(model: type[M], path: str | Path) -> M:
    data, text = load_toml(path)
    return validate_model(model, data, file=str(path), text=text)


def load_config(path: str | Path) -> HelplineConfig:
    """Load a helpline configuration (``config/vo-linjen.toml``) and its forms.

    The content registration forms are read from ``forms/<helpline id>/`` next to
    the file (``adapters.forms_file``), each published version checked against
    ``forms/forms.lock``.
    """
    from adapters.forms_file import forms_dir, load_forms

    data, text = load_toml(path)
    if "forms" in data:
        line = find_line(key_lines(text), ("forms",))
        raise InvalidConfig(
            [Problem(str(path), line, "forms", "forms are read from the forms/ folder, not here")]
        )
    cfg = validate_model(HelplineConfig, data, file=str(path), text=text)
    root = forms_dir(path)
    if not (root / cfg.id).is_dir():
        return cfg
    forms = load_forms(root, cfg.id)
    return validate_model(HelplineConfig, {**data, "forms": forms}, file=str(path), text=text)
