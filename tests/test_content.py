"""Content registration: forms and their versions, contact.registered, amendments, refusals."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.cli import main
from adapters.config_file import load_config
from router import HelplineConfig
from router.checkpoint import dump, load
from router.content_stats import content_stats
from router.core import Router
from router.errors import InvalidEvent, LinjeError, UnknownContact
from router.events import ContactRegistered
from router.forms import InvalidAnswers, RegistrationRefused, UnknownForm, WrongFormVersion
from router.records import RegistrationRecord
from router.testing import Script
from tests.conftest import VO_LINJEN

CONFIG = Path(VO_LINJEN).parent

# Complete answers for each phone version (codes of that version), and chat v1.
PHONE_2019 = {"who": "exposed", "age": "age_31_40", "gender": "woman", "first_contact": "no",
              "violence": ["physical", "psychological"], "help": ["conversation"],
              "referrals": ["crisis_centre"]}  # fmt: skip
PHONE_2020 = {**PHONE_2019, "violence": ["physical", "latent", "dont_know"],
              "help": ["unknown"], "target_group": "yes", "ongoing": "yes"}  # fmt: skip
PHONE_2021 = {**PHONE_2020, "violence": ["physical_psychological", "economic"]}
CHAT_2021 = {"who": "perpetrator", "target_group": "yes", "age": "age_18_30", "gender": "man",
             "first_contact": "yes", "ongoing": "not_relevant", "violence": ["sexual"],
             "help": ["advice"], "referrals": []}  # fmt: skip


def answered(s: Script, cid: str, agent: str = "kss-1", channel: str = "phone") -> None:
    s.arrive(cid, channel)
    s.answer(cid, agent)
    s.after(300)
    s.end(cid)
    s.after(30)


@pytest.fixture
def s(vo_config: HelplineConfig) -> Script:
    s = Script(Router(vo_config), source="kss-1")
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss", ("phone", "chat"))
    s.login("kss-2", "kss", ("phone",))
    return s


# ------------------------------------------------------------------ forms
def test_the_first_users_forms_have_their_versions_and_dates(vo_config: HelplineConfig) -> None:
    got = [(f.id, f.channel, [(v.version, v.valid_from.isoformat()) for v in f.versions])
           for f in vo_config.forms]  # fmt: skip
    assert got == [
        ("chat", "chat", [(1, "2021-04-08")]),
        ("phone", "phone", [(1, "2019-10-01"), (2, "2020-01-01"), (3, "2020-08-23"),
                            (4, "2021-01-01")]),
    ]  # fmt: skip
    phone = vo_config.form_for("phone")
    assert phone is not None
    assert list(phone.versions[2].fields) == ["who", "target_group", "age", "gender",
        "first_contact", "ongoing", "violence", "help", "referrals"]  # fmt: skip
    assert "target_group" not in phone.versions[1].fields  # recorded from 23 Aug 2020


def test_older_answers_are_counted_in_the_newest_codes(vo_config: HelplineConfig) -> None:
    phone = vo_config.form_for("phone")
    assert phone is not None
    assert phone.forward(3, PHONE_2020) == {
        "who": "exposed", "target_group": "yes", "age": "age_31_40", "gender": "woman",
        "first_contact": "no", "ongoing": "yes",
        # physical -> physical and psychological; latent is no longer asked; don't know
        # -> don't know / not relevant
        "violence": ("physical_psychological", "dont_know_not_relevant"),
        "help": ("unknown",), "referrals": ("crisis_centre",),
    }  # fmt: skip
    assert phone.forward(1, PHONE_2019)["violence"] == ("physical_psychological", "psychological")
    assert "target_group" not in phone.forward(1, PHONE_2019)


def copy_config(tmp_path: Path) -> Path:
    shutil.copy(CONFIG / "vo-linjen.toml", tmp_path / "vo-linjen.toml")
    shutil.copytree(CONFIG / "forms", tmp_path / "forms")
    return tmp_path / "vo-linjen.toml"


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    rc = main(["check-config", str(path)])
    return rc, capsys.readouterr().err.splitlines()


def test_a_changed_published_version_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    v1 = tmp_path / "forms" / "vo_linjen" / "phone" / "v1.toml"
    v1.write_text(v1.read_text().replace('nb = "Alder"', 'nb = "Alder (år)"'))
    assert check(cfg, capsys) == (2, [
        f"linje check-config: error: {v1}:9: version: version 1 of form phone was published "
        "and has changed (forms.lock holds another digest); a published version never "
        "changes: restore it and add a new version with a code map",
    ])  # fmt: skip
    with pytest.raises(LinjeError):
        load_config(cfg)


def test_a_new_version_is_refused_until_published_and_publishing_keeps_the_old_digests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    phone = tmp_path / "forms" / "vo_linjen" / "phone"
    v5 = phone / "v5.toml"
    v5.write_text(
        phone.joinpath("v4.toml").read_text()
        .replace("version = 4", "version = 5").replace("valid_from = 2021-01-01",
                                                       "valid_from = 2022-01-01")
        .replace('nb = "Alder"', 'nb = "Alder på den som tok kontakt"')
        .replace('map = { physical = "physical_psychological", dont_know = '
                 '"dont_know_not_relevant" }\n', "")
        .replace('retired = ["latent"]\n', "")
    )  # fmt: skip
    assert check(cfg, capsys) == (2, [
        f"linje check-config: error: {v5}:9: version: version 5 of form phone is not "
        "published: run `linje publish-forms` to freeze it before it is used",
    ])  # fmt: skip
    lock = tmp_path / "forms" / "forms.lock"
    before = lock.read_text().splitlines()
    assert main(["publish-forms", str(cfg)]) == 0
    assert capsys.readouterr().out == "published: phone v5\n"
    after = lock.read_text().splitlines()
    assert [line for line in after if line not in before] == [
        next(line for line in after if line.startswith("5 = "))
    ]
    assert main(["publish-forms", str(cfg)]) == 0
    assert capsys.readouterr().out == "nothing new to publish\n"
    rc, err = check(cfg, capsys)
    assert (rc, err) == (0, [])
    assert [len(f.versions) for f in load_config(cfg).forms] == [1, 5]


def test_a_published_version_whose_file_is_gone_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    (tmp_path / "forms" / "vo_linjen" / "phone" / "v4.toml").unlink()
    lock = tmp_path / "forms" / "forms.lock"
    line = (
        lock.read_text()
        .splitlines()
        .index(next(x for x in lock.read_text().splitlines() if x.startswith("4 = ")))
    )
    assert check(cfg, capsys) == (2, [
        f"linje check-config: error: {lock}:{line + 1}: vo_linjen.phone.4: published version 4 "
        "of form phone has no file",
    ])  # fmt: skip


def test_a_published_form_whose_folder_is_gone_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    shutil.rmtree(tmp_path / "forms" / "vo_linjen" / "chat")
    lock = tmp_path / "forms" / "forms.lock"
    line = lock.read_text().splitlines().index("[vo_linjen.chat]") + 1
    assert check(cfg, capsys) == (2, [
        f"linje check-config: error: {lock}:{line}: vo_linjen.chat: published form chat has "
        "no files",
    ])  # fmt: skip


def test_a_new_version_must_give_every_old_code_a_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    phone = tmp_path / "forms" / "vo_linjen" / "phone"
    text = phone.joinpath("v4.toml").read_text()
    text = text.replace("version = 4", "version = 5").replace(
        "valid_from = 2021-01-01", "valid_from = 2022-01-01"
    )
    text = text.replace(
        'map = { physical = "physical_psychological", dont_know = "dont_know_not_relevant" }\n', ""
    ).replace('retired = ["latent"]\n', "")
    # Drop 'other' from who, with no map and no retired entry.
    text = text.replace('  { code = "other", nb = "Andre", en = "Other" },\n', "", 1)
    v5 = phone / "v5.toml"
    v5.write_text(text)
    main(["publish-forms", str(cfg)])
    err = capsys.readouterr().err.splitlines()
    line = text.splitlines().index("[fields.who]") + 1
    assert err == [
        f"linje publish-forms: error: {v5}:{line}: fields: version 5: fields.who: version 4's "
        "option 'other' needs a place here (an option with that code, an entry in map, or "
        "retired)",
    ]


def test_a_bad_form_file_names_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = copy_config(tmp_path)
    chat = tmp_path / "forms" / "vo_linjen" / "chat" / "v1.toml"
    text = chat.read_text().replace('kind = "multi"', 'kind = "free_text"', 1)
    chat.write_text(text)
    line = text.splitlines().index('kind = "free_text"') + 1
    rc, err = check(cfg, capsys)
    assert rc == 2
    assert err[0] == (
        f"linje check-config: error: {chat}:{line}: fields.violence.kind: Input should be "
        "'single', 'multi' or 'integer'"
    )


# --------------------------------------------------------------- register
def test_a_registration_is_recorded_and_leaves_the_to_do_list(s: Script) -> None:
    answered(s, "c1")
    answered(s, "c2")
    assert [c["contact_id"] for c in s.router.to_register("kss-1")] == ["c1", "c2"]
    assert s.router.to_register("kss-2") == []
    s.register("c1", "kss-1", PHONE_2021, version=4)
    assert [c["contact_id"] for c in s.router.to_register("kss-1")] == ["c2"]
    (rec,) = [r for r in s.records if isinstance(r, RegistrationRecord)]
    assert rec == RegistrationRecord(
        contact_id="c1", channel="phone", team="kss", arrived_at=s.ts("2021-11-15 10:00"),
        at=s.t, form="phone", version=4,
        answers={k: tuple(v) if isinstance(v, list) else v for k, v in sorted(PHONE_2021.items())},
        amends=0,
    )  # fmt: skip


def test_an_amendment_replaces_the_registration_and_both_stay_in_the_log(
    s: Script, vo_config: HelplineConfig
) -> None:
    answered(s, "c1")
    s.register("c1", "kss-1", {**PHONE_2021, "who": "relative"}, version=4)
    s.after(86400)
    s.register("c1", "kss-1", PHONE_2021, version=4)
    regs = [r for r in s.records if isinstance(r, RegistrationRecord)]
    assert [(r.answers["who"], r.amends) for r in regs] == [("relative", 0), ("exposed", 1)]
    cfg = vo_config.model_copy(update={"content": vo_config.content.model_copy(update={"k": 2})})
    who = content_stats(s.records, cfg)["tables"][0]["groups"][0]["fields"]["who"]["counts"]
    # One contact: under k=2, so even the last registration's count is "<2"; the earlier
    # answer is not counted at all.
    assert who == {"exposed": "<2", "relative": 0, "professional": 0, "unknown": 0, "other": 0}
    # After the window (7 days from the answer) nothing changes any more: the index of
    # answered contacts has forgotten it, as the core forgot the contact itself.
    assert s.router.registration_count("c1") == 2
    s.after(7 * 86400)
    with pytest.raises(UnknownContact) as exc:
        s.register("c1", "kss-1", PHONE_2021, version=4)
    assert exc.value.field == "contact_id"
    assert s.router.registration_count("c1") is None


def refusal(s: Script, **fields: Any) -> LinjeError:
    before = dump(s.router)
    ev = {"contact_id": "c1", "form": "phone", "version": 4, "answers": PHONE_2021,
          "by": "kss-1", **fields}  # fmt: skip
    step = s.router.apply(ContactRegistered(event_id="r-x", at=s.t, source="kss-1", **ev))
    assert step.status == "refused"
    assert dump(s.router) == before  # nothing changed
    assert step.error is not None
    return step.error


def test_registrations_that_do_not_fit_are_refused_with_a_typed_error_and_no_change(
    s: Script,
) -> None:
    answered(s, "c1")
    answered(s, "chat-1", channel="chat")
    s.arrive("gone")
    s.abandon("gone")
    s.arrive("waiting")  # rings, not answered
    cases = {
        "unknown": dict(contact_id="nobody"),
        "unanswered": dict(contact_id="waiting"),
        "abandoned": dict(contact_id="gone"),
        "other channel": dict(contact_id="chat-1"),
        "other agent": dict(by="kss-2"),
        "unknown form": dict(form="email"),
        "wrong version": dict(version=3),
        "unknown code": dict(answers={**PHONE_2021, "who": "zzsecretword"}),
        "missing required": dict(answers={k: v for k, v in PHONE_2021.items() if k != "age"}),
        "unknown field": dict(answers={**PHONE_2021, "mood": "calm"}),
        "multi as single": dict(answers={**PHONE_2021, "help": "conversation"}),
    }
    got = {}
    for name, fields in cases.items():
        err = refusal(s, **fields)
        got[name] = (type(err), err.field)
        assert "zzsecretword" not in err.detail
    assert got == {
        "unknown": (UnknownContact, "contact_id"),
        "unanswered": (RegistrationRefused, "contact_id"),
        "abandoned": (RegistrationRefused, "contact_id"),
        "other channel": (RegistrationRefused, "form"),
        "other agent": (RegistrationRefused, "contact_id"),
        "unknown form": (UnknownForm, "form"),
        "wrong version": (WrongFormVersion, "version"),
        "unknown code": (InvalidAnswers, "answers.who"),
        "missing required": (InvalidAnswers, "answers.age"),
        "unknown field": (InvalidAnswers, "answers"),
        "multi as single": (InvalidAnswers, "answers.help"),
    }
    assert str(refusal(s, version=3)) == (
        "contact c1 arrived on 2021-11-15, when version 4 of form phone was in force, not version 3"
    )


def test_a_chat_is_registered_with_the_chat_form(s: Script) -> None:
    answered(s, "chat-1", channel="chat")
    s.register("chat-1", "kss-1", CHAT_2021, form="chat", version=1)
    assert s.router.registration_count("chat-1") == 1


@pytest.mark.parametrize(
    "answers",
    [
        {"who": "Kari Nordmann"},
        {"who": "98765432"},
        {"who": ["a b"]},
        {"note": "called from 98765432"},
        {"who": True},
        {"Who": "exposed"},
        "exposed",
    ],
)
def test_an_answer_is_a_code_list_of_codes_or_number_never_text(answers: Any) -> None:
    with pytest.raises(InvalidEvent) as exc:
        ContactRegistered(event_id="r1", at=1.0, source="kss-1", contact_id="c1", form="phone",
                          version=1, answers=answers, by="kss-1")  # fmt: skip
    assert "Kari" not in exc.value.detail and "98765432" not in exc.value.detail


def test_a_version_in_force_follows_the_local_arrival_date(vo_config: HelplineConfig) -> None:
    s = Script(Router(vo_config), source="kss-1")
    s.at("2020-08-22 23:50")  # the night before the 2020-08-23 version, local time
    s.login("ok-1", "ok")
    answered(s, "c-before", agent="ok-1")
    s.at("2020-08-23 00:10")
    answered(s, "c-after", agent="ok-1")
    assert [(c["contact_id"], c["version"]) for c in s.router.to_register("ok-1")] == [
        ("c-before", 2),
        ("c-after", 3),
    ]
    v2 = {k: v for k, v in PHONE_2020.items() if k not in ("target_group", "ongoing")}
    s.register("c-before", "ok-1", v2, version=2)
    s.register("c-after", "ok-1", PHONE_2020, version=3)
    assert s.router.to_register("ok-1") == []


def test_a_checkpoint_keeps_the_index_and_goes_on_alike(
    s: Script, vo_config: HelplineConfig
) -> None:
    answered(s, "c1")
    answered(s, "c2")
    s.register("c1", "kss-1", PHONE_2021, version=4)
    restored = load(vo_config, dump(s.router))
    assert dump(restored) == dump(s.router)
    assert restored.to_register("kss-1") == s.router.to_register("kss-1")
    ev = ContactRegistered(event_id="r-2", at=s.t, source="kss-1", contact_id="c2",
                           form="phone", version=4, answers=PHONE_2021, by="kss-1")  # fmt: skip
    a, b = s.router.apply(ev), restored.apply(ev)
    assert (a.status, a.records) == (b.status, b.records)
    assert dump(restored) == dump(s.router)


def test_one_comparable_series_across_the_2020_and_2021_versions(
    vo_config: HelplineConfig,
) -> None:
    s = Script(Router(vo_config), source="ok-1")
    s.at("2020-09-01 20:00")
    s.login("ok-1", "ok")
    for i in range(5):
        answered(s, f"a{i}", agent="ok-1")
        s.register(f"a{i}", "ok-1", PHONE_2020, version=3)
    s.at("2021-09-01 20:00")
    for i in range(6):
        answered(s, f"b{i}", agent="ok-1")
        s.register(f"b{i}", "ok-1", PHONE_2021, version=4)
    tables = content_stats(s.records, vo_config)["tables"]
    violence = {t["year"]: t["groups"][0]["fields"]["violence"]["counts"] for t in tables}
    assert violence == {
        2020: {"physical_psychological": 5, "psychological": 0, "sexual": 0, "material": 0,
               "digital": 0, "economic": 0, "upbringing": 0, "dont_know_not_relevant": 5},
        2021: {"physical_psychological": 6, "psychological": 0, "sexual": 0, "material": 0,
               "digital": 0, "economic": 6, "upbringing": 0, "dont_know_not_relevant": 0},
    }  # fmt: skip
    assert [(t["year"], t["version"], t["groups"][0]["registered"]) for t in tables] == [
        (2020, 4, 5),
        (2021, 4, 6),
    ]


def test_the_local_date_is_the_helplines(vo_config: HelplineConfig) -> None:
    r = Router(vo_config)
    t = dt.datetime(2020, 12, 31, 23, 30, tzinfo=dt.UTC).timestamp()  # 00:30 in Oslo
    assert r.local_date(t) == dt.date(2021, 1, 1)


def test_an_amendment_after_the_window_is_refused_while_the_contact_is_still_known(
    vo_config: HelplineConfig,
) -> None:
    short = vo_config.content.model_copy(update={"amend_days": 0.5})
    s = Script(Router(vo_config.model_copy(update={"content": short})), source="kss-1")
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss")
    answered(s, "c1")
    s.register("c1", "kss-1", PHONE_2021, version=4)
    s.after(13 * 3600)  # past the 12 h window, inside the 24 h the core keeps ended contacts
    with pytest.raises(RegistrationRefused) as exc:
        s.register("c1", "kss-1", PHONE_2021, version=4)
    assert str(exc.value) == (
        "contact c1 was answered more than 0.5 days ago; its registration can no longer change"
    )


def test_a_small_integer_field_is_checked_and_counted_by_value() -> None:
    from router.forms import Form

    form = Form.model_validate({
        "id": "phone", "channel": "phone", "nb": "Skjema", "en": "Form",
        "versions": [
            {"version": 1, "valid_from": "2022-01-01", "fields": {
                "children": {"kind": "integer", "nb": "Barn", "en": "Children", "max": 6}}},
            {"version": 2, "valid_from": "2023-01-01", "fields": {
                "children_present": {"kind": "integer", "nb": "Barn til stede",
                                     "en": "Children present", "max": 6, "was": "children"}}},
        ],
    })  # fmt: skip
    v1 = form.versions[0]
    v1.check({"children": 3})
    for bad, field in (({"children": 7}, "answers.children"), ({"children": "3"},
                       "answers.children"), ({}, "answers.children")):  # fmt: skip
        with pytest.raises(InvalidAnswers) as exc:
            v1.check(bad)
        assert exc.value.field == field
    assert form.forward(1, {"children": 3}) == {"children_present": 3}
    with pytest.raises(ValueError, match="an integer field has no options"):
        Form.model_validate({**form.model_dump(), "versions": [{
            "version": 1, "valid_from": "2022-01-01", "fields": {"n": {
                "kind": "integer", "nb": "n", "en": "n",
                "options": [{"code": "a", "nb": "a", "en": "a"}]}}}]})  # fmt: skip
