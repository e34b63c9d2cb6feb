"""Read a helpline's content registration forms from ``config/forms/`` and check the lock.

Layout: ``config/forms/<helpline id>/<form id>/v<N>.toml``, one file per form
version (``router.forms``), and one lock file ``config/forms/forms.lock`` with
the digest of every published version. A published version never changes:
a version whose digest differs from the lock, a published version whose file
is gone, or a version not yet published is a configuration problem (file,
line, key, reason). ``publish_forms`` adds the digests of new versions to the
lock and never changes one already there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from adapters.config_file import (
    InvalidConfig,
    Problem,
    find_line,
    key_lines,
    load_toml,
    validation_problems,
)
from router.config import dotted
from router.forms import Form, FormVersion, version_digest

__all__ = ["LOCK_NAME", "FormFile", "forms_dir", "load_forms", "publish_forms"]

LOCK_NAME = "forms.lock"


class FormFile(FormVersion):
    """One version file: the form's id, channel and title, and the version."""

    form: str
    channel: Literal["phone", "chat"]
    nb: str
    en: str


def forms_dir(config_path: str | Path) -> Path:
    """Where the forms of the helpline configured in ``config_path`` live (its folder's
    ``forms``)."""
    return Path(config_path).resolve().parent / "forms"


def _read_versions(
    root: Path, helpline: str
) -> tuple[list[tuple[Path, str, FormFile]], list[Problem]]:
    found: list[tuple[Path, str, FormFile]] = []
    problems: list[Problem] = []
    base = root / helpline
    for path in sorted(base.glob("*/v*.toml")):
        try:
            data, text = load_toml(path)
            ff = FormFile.model_validate(data)
        except InvalidConfig as exc:
            problems += exc.problems
            continue
        except ValidationError as exc:
            problems += validation_problems(exc, str(path), text)
            continue
        lines = key_lines(text)
        if ff.form != path.parent.name:
            problems.append(
                Problem(
                    str(path),
                    find_line(lines, ("form",)),
                    "form",
                    f"must be {path.parent.name!r}, the folder's name",
                )
            )
        elif path.stem != f"v{ff.version}":
            problems.append(
                Problem(
                    str(path),
                    find_line(lines, ("version",)),
                    "version",
                    f"must be {path.stem[1:]!r}, as the file's name says",
                )
            )
        else:
            found.append((path, text, ff))
    return found, problems


def _lock(root: Path) -> tuple[dict[str, Any], str, Path]:
    path = root / LOCK_NAME
    if not path.exists():
        return {}, "", path
    data, text = load_toml(path)
    return data, text, path


def load_forms(root: Path, helpline: str) -> tuple[Form, ...]:
    """The helpline's forms, every version checked against the lock; ``InvalidConfig``."""
    found, problems = _read_versions(root, helpline)
    lock, lock_text, lock_path = _lock(root)
    published = lock.get(helpline, {})
    by_form: dict[str, list[tuple[Path, str, FormFile]]] = {}
    for item in found:
        by_form.setdefault(item[2].form, []).append(item)
    forms: list[Form] = []
    for form_id, items in sorted(by_form.items()):
        items.sort(key=lambda x: x[2].version)
        digests = published.get(form_id, {}) if isinstance(published, dict) else {}
        for path, text, ff in items:
            line = find_line(key_lines(text), ("version",))
            want = digests.get(str(ff.version))
            got = version_digest(form_id, _version(ff))
            if want is None:
                problems.append(
                    Problem(
                        str(path),
                        line,
                        "version",
                        f"version {ff.version} of form {form_id} is not published: run "
                        "`linje publish-forms` to freeze it before it is used",
                    )
                )
            elif want != got:
                problems.append(
                    Problem(
                        str(path),
                        line,
                        "version",
                        f"version {ff.version} of form {form_id} was published and has changed "
                        f"({LOCK_NAME} holds another digest); a published version never changes: "
                        "restore it and add a new version with a code map",
                    )
                )
        have = {str(ff.version) for _, _, ff in items}
        for number in sorted(set(digests) - have):
            loc = (helpline, form_id, number)
            problems.append(
                Problem(
                    str(lock_path),
                    find_line(key_lines(lock_text), loc),
                    dotted(loc),
                    f"published version {number} of form {form_id} has no file",
                )
            )
        form, why = _form(items)
        problems += why
        if form is not None:
            forms.append(form)
    for form_id in sorted(set(published) - set(by_form)) if isinstance(published, dict) else ():
        where: tuple[str | int, ...] = (helpline, form_id)
        problems.append(
            Problem(
                str(lock_path),
                find_line(key_lines(lock_text), where),
                dotted(where),
                f"published form {form_id} has no files",
            )
        )
    if problems:
        raise InvalidConfig(problems)
    return tuple(forms)


def _version(ff: FormFile) -> FormVersion:
    return FormVersion(version=ff.version, valid_from=ff.valid_from, fields=ff.fields)


def _form(items: list[tuple[Path, str, FormFile]]) -> tuple[Form | None, list[Problem]]:
    """The form made of its version files, or the problems of its chain of code maps."""
    newest = items[-1][2]
    try:
        form = Form(
            id=newest.form,
            channel=newest.channel,
            nb=newest.nb,
            en=newest.en,
            versions=tuple(_version(ff) for _, _, ff in items),
        )
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            reason = str(err["msg"]).removeprefix("Value error, ")
            path, text = _file_of(items, reason)
            out.append(Problem(str(path), _line_of(text, reason), "fields", reason))
        return None, out
    return form, []


def _file_of(items: list[tuple[Path, str, FormFile]], reason: str) -> tuple[Path, str]:
    """The version file a chain problem (``version N: ...``) is about."""
    for path, text, ff in items:
        if reason.startswith(f"version {ff.version}:"):
            return path, text
    return items[-1][0], items[-1][1]


def _line_of(text: str, reason: str) -> int | None:
    lines = key_lines(text)
    field = (
        reason.split("fields.", 1)[1].split(None, 1)[0].rstrip(":.") if "fields." in reason else ""
    )
    parts = tuple(field.split(".")) if field else ()
    return find_line(lines, ("fields", *parts)) if parts else None


def publish_forms(root: Path, helpline: str) -> list[str]:
    """Add the digests of the helpline's unpublished versions to the lock; what was added.

    A version already in the lock is never rewritten: a changed one stays an error.
    """
    found, problems = _read_versions(root, helpline)
    if problems:
        raise InvalidConfig(problems)
    lock, _, path = _lock(root)
    lock = {h: {f: dict(v) for f, v in forms.items()} for h, forms in lock.items()}
    added = []
    for _, _, ff in sorted(found, key=lambda x: (x[2].form, x[2].version)):
        entry = lock.setdefault(helpline, {}).setdefault(ff.form, {})
        if str(ff.version) not in entry:
            entry[str(ff.version)] = version_digest(ff.form, _version(ff))
            added.append(f"{ff.form} v{ff.version}")
    for form_id in sorted({x[2].form for x in found}):  # the chain of code maps holds
        problems += _form(
            sorted((x for x in found if x[2].form == form_id), key=lambda x: x[2].version)
        )[1]
    if problems:
        raise InvalidConfig(problems)
    out = [
        "# Published content registration form versions: one digest per version.",
        "# Written by `linje publish-forms`; a published version never changes.",
    ]
    for h in sorted(lock):
        for f in sorted(lock[h]):
            out += ["", f"[{h}.{f}]"]
            out += [f'{n} = "{d}"' for n, d in sorted(lock[h][f].items(), key=lambda x: int(x[0]))]
    path.write_text("\n".join(out) + "\n")
    tomllib.loads(path.read_text())
    return added
