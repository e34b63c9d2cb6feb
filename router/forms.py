"""Content registration forms: versioned, immutable once published, answers by stable code.

A helpline has one form per channel (``phone``, ``chat``). A form has numbered
versions, each in force from a local date (``valid_from``) until the next one.
A field is a single choice, a multiple choice or a small integer; every option
has a stable ``code`` (what is stored and counted) and labels in Norwegian
(``nb``) and English (``en``), which may be reworded freely in a new version.
Each version after the first states how its codes follow from the previous
version's (``was`` and ``map`` per field; a code that exists in both maps to
itself), so registrations made under any version can be counted in the newest
version's codes (``Form.forward``). There is no free-text field: free text
carries identity.

Reading the files and checking that a published version has not changed is the
edge's job (``adapters.forms_file``); this module only validates data, so the
core stays free of I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router._checks import _WORD_MATCH
from router.errors import InvalidEvent, RoutingError, UnknownName

__all__ = [
    "Answers",
    "ContentConfig",
    "Form",
    "FormField",
    "FormVersion",
    "InvalidAnswers",
    "Option",
    "RegistrationRefused",
    "UnknownForm",
    "WrongFormVersion",
    "answers_shape",
    "version_digest",
]

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Label = Annotated[str, Field(min_length=1, max_length=200)]
# An answer: a code (single choice), codes (multiple choice) or a number (integer).
Answer = str | int | tuple[str, ...]
Answers = Mapping[str, Answer]
MAX_INTEGER = 1000
MAX_ANSWERS = 40  # fields of a version, codes in one multiple-choice answer


class RegistrationRefused(RoutingError):
    """A registration for a contact that cannot take one (not answered, not yours, too old)."""

    code = "registration-refused"


class UnknownForm(UnknownName):
    code = "unknown-form"


class WrongFormVersion(RoutingError):
    status = 422
    code = "wrong-form-version"


class InvalidAnswers(InvalidEvent):
    code = "invalid-answers"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContentConfig(_Strict):
    """How long a registration stays amendable, and the small-cell threshold."""

    # An answered contact can be registered, and its registration amended, for this
    # many days after it was answered; the last registration counts.
    amend_days: float = Field(7.0, gt=0, le=90)
    # A statistics cell counting fewer than k contacts is never shown nor derivable.
    k: int = Field(5, ge=2, le=100)


class Option(_Strict):
    code: Code
    nb: Label
    en: Label


class FormField(_Strict):
    """One question. ``was``/``map``/``retired`` relate it to the previous version."""

    kind: Literal["single", "multi", "integer"]
    nb: Label
    en: Label
    required: bool = True
    options: tuple[Option, ...] = ()
    min: int = Field(0, ge=0, le=MAX_INTEGER)
    max: int = Field(20, ge=0, le=MAX_INTEGER)
    # The field's name in the previous version (default: the same name, if it had one).
    was: Code | None = None
    # Previous version's code -> this version's code (default: the same code).
    map: dict[Code, Code] = {}
    # Previous codes with no counterpart here (multiple choice only): not carried forward.
    retired: tuple[Code, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> FormField:
        codes = [o.code for o in self.options]
        if self.kind == "integer":
            if self.options:
                raise ValueError("an integer field has no options")
            if self.max < self.min:
                raise ValueError("max is below min")
        else:
            if len(codes) < 2:
                raise ValueError("a choice field needs at least two options")
            if len(set(codes)) != len(codes):
                dup = next(c for c in codes if codes.count(c) > 1)
                raise ValueError(f"option code {dup!r} appears twice")
        for old, new in self.map.items():
            if new not in codes:
                raise ValueError(f"map: {old!r} maps to {new!r}, which is not an option here")
        if self.retired and self.kind != "multi":
            raise ValueError("retired: only a multiple-choice field may retire codes")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(o.code for o in self.options)


class FormVersion(_Strict):
    version: int = Field(ge=1, le=1000)
    valid_from: dt.date
    fields: dict[Code, FormField]

    @model_validator(mode="after")
    def _some(self) -> FormVersion:
        if not self.fields:
            raise ValueError("a form version needs at least one field")
        return self

    def check(self, answers: Answers) -> None:
        """Raise ``InvalidAnswers`` unless ``answers`` fit this version (codes, never text)."""
        for name in answers:
            if name not in self.fields:
                raise InvalidAnswers(f"answers: no field {name!r} in version {self.version}",
                                     field="answers")  # fmt: skip
        for name, f in self.fields.items():
            value = answers.get(name)
            at = f"answers.{name}"
            if value is None or value == ():
                if f.required:
                    raise InvalidAnswers(f"{at}: a required answer is missing", field=at)
                continue
            if f.kind == "integer":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InvalidAnswers(f"{at}: must be a whole number", field=at)
                if not f.min <= value <= f.max:
                    raise InvalidAnswers(f"{at}: must be {f.min}-{f.max}", field=at)
            elif f.kind == "single":
                if not isinstance(value, str):
                    raise InvalidAnswers(f"{at}: must be one option code", field=at)
                if value not in f.codes:
                    raise InvalidAnswers(f"{at}: not an option code of this field", field=at)
            else:
                if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                    raise InvalidAnswers(f"{at}: must be a list of option codes", field=at)
                if len(set(value)) != len(value):
                    raise InvalidAnswers(f"{at}: an option code is given twice", field=at)
                if any(v not in f.codes for v in value):
                    raise InvalidAnswers(f"{at}: not an option code of this field", field=at)


class Form(_Strict):
    """One channel's form with all its versions, oldest first."""

    id: Code
    channel: Literal["phone", "chat"]
    nb: Label
    en: Label
    versions: tuple[FormVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _chain(self) -> Form:
        for i, v in enumerate(self.versions):
            if v.version != i + 1:
                raise ValueError(f"versions are numbered 1, 2, ...: version {v.version} is "
                                 f"number {i + 1}")  # fmt: skip
            if i and v.valid_from <= self.versions[i - 1].valid_from:
                raise ValueError(f"version {v.version}: valid_from must be after version {i}'s")
            prev = self.versions[i - 1] if i else None
            for name, f in v.fields.items():
                _check_map(v.version, name, f, prev)
        return self

    def in_force(self, day: dt.date) -> FormVersion | None:
        """The version in force on local date ``day`` (None before the first)."""
        found = None
        for v in self.versions:
            if v.valid_from <= day:
                found = v
        return found

    def version(self, number: int) -> FormVersion | None:
        return self.versions[number - 1] if 1 <= number <= len(self.versions) else None

    @property
    def newest(self) -> FormVersion:
        return self.versions[-1]

    def forward(self, version: int, answers: Mapping[str, Any]) -> dict[str, Answer]:
        """``answers`` of ``version`` in the newest version's fields and codes.

        A field the newer versions dropped is left out; a retired code is left
        out of a multiple-choice answer.
        """
        cur: dict[str, Answer] = {
            k: tuple(v) if isinstance(v, list | tuple) else v for k, v in answers.items()
        }
        for v in self.versions[version:]:
            nxt: dict[str, Answer] = {}
            for name, f in v.fields.items():
                old = f.was or name
                if old not in cur:
                    continue
                value = cur[old]
                if f.kind == "integer":
                    nxt[name] = value
                elif isinstance(value, str):
                    nxt[name] = f.map.get(value, value)
                elif isinstance(value, tuple):
                    mapped = [f.map.get(c, c) for c in value if c not in f.retired]
                    nxt[name] = tuple(dict.fromkeys(mapped))
            cur = nxt
        return cur


def _check_map(number: int, name: str, f: FormField, prev: FormVersion | None) -> None:
    where = f"version {number}: fields.{name}"
    if prev is None:
        if f.was or f.map or f.retired:
            raise ValueError(f"{where}: the first version maps from nothing (no was/map/retired)")
        return
    old_name = f.was or name
    old = prev.fields.get(old_name)
    if old is None:
        if f.was:
            raise ValueError(f"{where}.was: version {prev.version} has no field {f.was!r}")
        if f.map or f.retired:
            raise ValueError(f"{where}: a new field maps from nothing (no map/retired)")
        return
    if (old.kind == "integer") != (f.kind == "integer"):
        raise ValueError(f"{where}: cannot follow {old_name!r} of another kind")
    if old.kind == "multi" and f.kind == "single":
        raise ValueError(f"{where}: a multiple choice cannot become a single choice")
    for code in (*f.map, *f.retired):
        if code not in old.codes:
            raise ValueError(f"{where}: {code!r} is no option of version {prev.version}")
    for code in old.codes:
        if code not in f.map and code not in f.retired and code not in f.codes:
            raise ValueError(
                f"{where}: version {prev.version}'s option {code!r} needs a place here "
                "(an option with that code, an entry in map, or retired)"
            )


def version_digest(form_id: str, version: FormVersion) -> str:
    """A fingerprint of a version's whole content (labels too): what a lock file holds."""
    body = json.dumps(
        {"form": form_id, **version.model_dump(mode="json")}, sort_keys=True, ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def answers_shape(version: object, answers: object) -> dict[str, Answer]:
    """``answers`` of a ``contact.registered`` event in its one shape (sorted by field, lists
    as tuples), or ``InvalidEvent``: codes and numbers only, never text, never echoed."""
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 1000:
        raise InvalidEvent("contact.registered: version must be a version number", field="version")
    if not isinstance(answers, dict) or len(answers) > MAX_ANSWERS:
        raise InvalidEvent(
            f"contact.registered: answers must be an object of at most {MAX_ANSWERS} fields",
            field="answers",
        )
    out: dict[str, Answer] = {}
    for name in sorted(answers, key=str):
        if not isinstance(name, str) or _WORD_MATCH(name) is None:
            raise InvalidEvent("contact.registered: an answers key is not a field name",
                               field="answers")  # fmt: skip
        value, at = answers[name], f"answers.{name}"
        number = isinstance(value, int) and not isinstance(value, bool)
        if (number and 0 <= value <= MAX_INTEGER) or (
            isinstance(value, str) and _WORD_MATCH(value) is not None
        ):
            out[name] = value
        elif (
            isinstance(value, list | tuple)
            and len(value) <= MAX_ANSWERS
            and all(isinstance(c, str) and _WORD_MATCH(c) is not None for c in value)
        ):
            out[name] = tuple(value)
        else:
            raise InvalidEvent(
                f"{at}: must be an option code, a list of codes or a number 0-{MAX_INTEGER}",
                field=at,
            )
    return out
