"""Scenario files: validation with clear errors, arrivals, rota timelines, distributions."""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import statistics
from pathlib import Path

import pytest

from router.config import CLOSED, HelplineConfig
from router.coverage import CoveragePlan
from router.errors import ConfigError
from sim.arrivals import month_pieces, profile_arrivals, read_replay
from sim.distributions import Empirical, Lognormal, Patience, Uniform
from sim.rota import rota_timeline
from sim.scenario import Absence, RotaEntry, RoutingOverrides, load_scenario

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "config" / "scenarios" / "pilot-2019-2021.toml"
ROUTING = ROOT / "config" / "vo-linjen.toml"

MINIMAL = f"""
name = "minimal"
routing = "{ROUTING.as_posix()}"
start = 2021-11-01
end = 2021-11-30

[arrivals.phone]
monthly = {{ "2021-11" = 100 }}

[callers.phone]
patience = {{ rest = {{ dist = "exponential", mean = 60 }} }}
handle = {{ dist = "fixed", value = 600 }}
"""


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------- the pilot scenario


def test_the_pilot_scenario_adds_up_to_the_seeds_volumes() -> None:
    s = load_scenario(PILOT).scenario
    assert s.arrivals.phone is not None
    assert s.arrivals.chat is not None
    phone, chat = s.arrivals.phone.monthly, s.arrivals.chat.monthly
    # 4499 phone and 695 chat contacts, 1 Oct 2019 - 31 Dec 2021 (the pilot report).
    assert sum(phone.values()) == 4499
    assert sum(chat.values()) == 695
    # First three months: 468 phone (Oct-Dec 2019) and 152 chat (Apr-Jun 2021).
    assert phone["2019-10"] + phone["2019-11"] + phone["2019-12"] == 468
    assert chat["2021-04"] + chat["2021-05"] + chat["2021-06"] == 152
    assert min(phone) == "2019-10"
    assert min(chat) == "2021-04"
    # Contacts more than doubled from 2020 to 2021.
    year = {
        y: sum(v for k, v in {**phone}.items() if k.startswith(y))
        + sum(v for k, v in chat.items() if k.startswith(y))
        for y in ("2020", "2021")
    }
    assert year["2021"] > 2 * year["2020"]
    # The TV day: 23 calls, 77 % above Nov 2021's daily average.
    tv = s.arrivals.campaigns[0]
    assert tv.multiplier == 1.77
    assert phone["2021-11"] / 30 * tv.multiplier == pytest.approx(23, abs=0.1)


def test_the_pilot_staffing_follows_the_seed() -> None:
    s = load_scenario(PILOT).scenario
    kss_phone = [e for e in s.rota if e.team == "kss" and e.channels == ("phone",)]
    # KSS on the phone 08:30-15:30 on weekdays; more people from 2021.
    assert {(e.start, e.end) for e in kss_phone} == {("08:30", "15:30")}
    assert [(e.agents, e.valid_from, e.valid_to) for e in kss_phone] == [
        (1, None, dt.date(2020, 12, 31)),
        (2, dt.date(2021, 1, 1), None),
    ]
    # Chat from 8 Apr 2021 with KSS 09-15, OK 15-20 from Sep 2021.
    chat = {(e.team, e.start, e.end, e.valid_from) for e in s.rota if e.channels == ("chat",)}
    assert ("kss", "09:00", "15:00", dt.date(2021, 4, 8)) in chat
    assert ("ok", "15:00", "20:00", dt.date(2021, 9, 1)) in chat
    # OK lets fewer rings ring out as its funding grows (0.45, 1.47, 3.5 FTE).
    shares = [p.no_pickup_share for p in s.teams["ok"].periods]
    assert shares == sorted(shares, reverse=True)
    assert len(shares) == 3
    # Nobody is set away: the carrier's queue had no such state to set.
    assert all(t.away_share == 0 for t in s.teams.values())
    assert all(p.away_share is None for t in s.teams.values() for p in t.periods)


def test_the_pilot_arrivals_are_exactly_the_monthly_totals_and_chats_only_when_open() -> None:
    loaded = load_scenario(PILOT)
    s, cfg = loaded.scenario, loaded.config
    plan = CoveragePlan(cfg)
    arrivals = profile_arrivals(s.arrivals, plan, cfg, random.Random(1), first=s.start, last=s.end)
    counts = collections.Counter((a.channel, plan.local(a.at).strftime("%Y-%m")) for a in arrivals)
    assert s.arrivals.phone is not None
    assert s.arrivals.chat is not None
    for month, total in s.arrivals.phone.monthly.items():
        assert counts[("phone", month)] == total
    for month, total in s.arrivals.chat.monthly.items():
        assert counts[("chat", month)] == total
    assert all(plan.owner("chat", a.at) != CLOSED for a in arrivals if a.channel == "chat")
    # Chat hours grew in Sep 2021: chats after 15:00 only from then on.
    late = [
        plan.local(a.at) for a in arrivals if a.channel == "chat" and plan.local(a.at).hour >= 15
    ]
    assert late
    assert min(d.date() for d in late) >= dt.date(2021, 9, 1)


def test_a_campaign_day_carries_its_multiplier() -> None:
    loaded = load_scenario(PILOT)
    plan = CoveragePlan(loaded.config)
    s = loaded.scenario
    assert s.arrivals.phone is not None
    pieces, base, boosted = month_pieces(
        s.arrivals.phone, "phone", plan, s.arrivals.campaigns, year=2021, month=11
    )

    def mass(day: dt.date) -> float:
        return sum(w for a, _, w in pieces if plan.local(a).date() == day)

    # Monday 15 Nov (the TV day) against Monday 22 Nov.
    assert mass(dt.date(2021, 11, 15)) / mass(dt.date(2021, 11, 22)) == pytest.approx(1.77)
    assert boosted > base


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (("start = 2021-11-01", "start = 2021-11-01\nbogus = 1"), "bogus", "unknown key"),
        (('"2021-11" = 100', '"2021-13" = 100'), "arrivals.phone.monthly", "YYYY-MM"),
        (
            ("[callers.phone]", "[arrivals.phone.x]\n[callers.phone]"),
            "arrivals.phone.x",
            "unknown key",
        ),
        (("end = 2021-11-30", "end = 2021-10-30"), "(top level)", "end is before start"),
        (
            ('handle = { dist = "fixed", value = 600 }', 'handle = { dist = "gamma", mean = 6 }'),
            "callers.phone.handle",
            "dist",
        ),
        (
            ("mean = 60 }", "mean = -60 }"),
            "callers.phone.patience.rest.exponential.mean",
            "greater than 0",
        ),
    ],
)
def test_a_bad_scenario_names_the_file_the_key_and_the_reason(
    tmp_path: Path, change: tuple[str, str], key: str, reason: str
) -> None:
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert err.value.file == str(path)
    assert err.value.key == key
    assert reason in err.value.detail


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        (
            '[[rota]]\nteam = "nobody"\nchannels = ["phone"]\nagents = 1\n',
            "rota[0].team",
            "no team 'nobody'",
        ),
        (
            '[[rota]]\nteam = "kss"\nchannels = ["phone"]\nagents = 1\nwhen_absent = "x"\n',
            "rota[0].when_absent",
            "no team 'x'",
        ),
        ("[teams.other]\n", "teams.other", "no such team"),
        ('[arrivals.chat]\nmonthly = { "2021-11" = 5 }\n', "callers", "callers.chat"),
        (
            '[arrivals.replay]\nfile = "calls.csv"\n',
            "arrivals",
            "either a replay or volume profiles",
        ),
    ],
)
def test_a_scenario_that_disagrees_with_its_routing_is_refused(
    tmp_path: Path, extra: str, key: str, reason: str
) -> None:
    path = write(tmp_path, MINIMAL + extra)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert (err.value.file, err.value.key) == (str(path), key)
    assert reason in err.value.detail


def test_a_missing_routing_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace(ROUTING.as_posix(), "nowhere.toml"))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert err.value.key == "routing"
    assert "nowhere.toml" in err.value.detail


def test_a_month_with_contacts_but_no_open_hours_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[arrivals.chat]\nonly_when_open = true\nmonthly = { "2021-03" = 5 }\n'
        '[callers.chat]\npatience = { rest = { dist = "never" } }\n'
        'handle = { dist = "fixed", value = 60 }\n'
    )
    loaded = load_scenario(write(tmp_path, text.replace("2021-11-01", "2021-03-01")))
    with pytest.raises(ConfigError) as err:
        profile_arrivals(
            loaded.scenario.arrivals,
            CoveragePlan(loaded.config),
            loaded.config,
            random.Random(1),
            first=dt.date(2021, 3, 1),
            last=dt.date(2021, 3, 31),
            file="x.toml",
        )
    assert err.value.key == "arrivals.chat.monthly.2021-03"
    assert "never open" in err.value.detail


# ---------------------------------------------------------------- overrides


def test_chat_hours_open_the_chat_owned_like_the_phone() -> None:
    loaded = load_scenario(PILOT, overrides=RoutingOverrides(chat_hours="07:00-23:00"))
    plan = CoveragePlan(loaded.config)
    day = dt.date(2021, 11, 13)  # a Saturday: the chat was closed on weekends
    assert plan.owner("chat", plan.instant(day, 6 * 60 + 30)) == CLOSED
    assert plan.owner("chat", plan.instant(day, 10 * 60)) == "ok"
    monday = dt.date(2021, 11, 15)
    for minutes in (7 * 60, 9 * 60, 12 * 60, 16 * 60, 22 * 60 + 59):
        t = plan.instant(monday, minutes)
        assert plan.owner("chat", t) == plan.owner("phone", t)
    assert plan.owner("chat", plan.instant(monday, 23 * 60 + 30)) == CLOSED


def test_chat_capacity_can_be_overridden() -> None:
    loaded = load_scenario(PILOT, overrides=RoutingOverrides(chat_capacity=4))
    assert loaded.config.channels["chat"].capacity == 4


# ---------------------------------------------------------------------- replay


def test_a_carrier_call_log_is_replayed_at_its_exact_times_and_nothing_else_is_read(
    tmp_path: Path,
) -> None:
    log = write(
        tmp_path,
        "arrived_at,channel,caller_number,duration\n"
        "2021-11-15 09:00:05,phone,+4799999999,300\n"
        "2021-11-15T10:00:00+01:00,phone,+4788888888,120\n"
        "2021-12-01 09:00:00,phone,+4777777777,60\n",
        "calls.csv",
    )
    loaded = load_scenario(PILOT)
    plan = CoveragePlan(loaded.config)
    arrivals = read_replay(
        log, None, plan, loaded.config, first=dt.date(2021, 11, 1), last=dt.date(2021, 11, 30)
    )
    assert [plan.local(a.at).strftime("%H:%M:%S") for a in arrivals] == ["09:00:05", "10:00:00"]
    assert all(a.queue == "phone" for a in arrivals)
    assert not hasattr(arrivals[0], "caller_number")


def test_a_jsonl_event_log_is_replayed(tmp_path: Path) -> None:
    lines = [
        {"type": "contact.arrived", "at": 1636966800.0, "contact_id": "a", "channel": "chat",
         "queue": "chat", "event_id": "e1", "source": "x"},
        {"type": "contact.answered", "at": 1636966810.0, "contact_id": "a", "agent_id": "k"},
        {"type": "contact.arrived", "at": "2021-11-15T10:30:00+01:00", "contact_id": "b",
         "channel": "phone", "queue": "phone"},
    ]  # fmt: skip
    log = write(tmp_path, "\n".join(json.dumps(x) for x in lines) + "\n", "events.jsonl")
    loaded = load_scenario(PILOT)
    plan = CoveragePlan(loaded.config)
    arrivals = read_replay(
        log, None, plan, loaded.config, first=dt.date(2021, 11, 15), last=dt.date(2021, 11, 15)
    )
    assert [(a.channel, a.at) for a in arrivals] == [
        ("chat", 1636966800.0),
        ("phone", 1636968600.0),
    ]


def test_a_bad_line_in_a_replay_log_is_named(tmp_path: Path) -> None:
    log = write(tmp_path, "arrived_at,channel\n2021-11-15 09:00,phone\nyesterday,phone\n", "c.csv")
    loaded = load_scenario(PILOT)
    with pytest.raises(ConfigError) as err:
        read_replay(
            log,
            "csv",
            CoveragePlan(loaded.config),
            loaded.config,
            first=dt.date(2021, 11, 1),
            last=dt.date(2021, 11, 30),
        )
    assert (err.value.file, err.value.key) == (str(log), "line 3: at")


def test_a_replay_scenario_runs_from_its_log(tmp_path: Path) -> None:
    from sim.run import simulate

    write(
        tmp_path, "arrived_at,channel\n2021-11-15 09:00:05,phone\n2021-11-16 21:00,phone\n", "c.csv"
    )
    text = MINIMAL.replace(
        '[arrivals.phone]\nmonthly = { "2021-11" = 100 }', '[arrivals.replay]\nfile = "c.csv"'
    )
    result = simulate(load_scenario(write(tmp_path, text)))
    assert result.stats.contacts == 2


# ------------------------------------------------------------------------ rota


def test_rota_entries_add_up_and_stand_ins_cover_absences() -> None:
    loaded = load_scenario(PILOT)
    plan = CoveragePlan(loaded.config)
    rota = [
        RotaEntry(team="ok", channels=("phone",), agents=1),
        RotaEntry(team="ok", channels=("phone",), agents=1, start="15:30", end="23:00"),
        RotaEntry(team="kss", channels=("phone",), agents=2, start="08:30", end="15:30",
                  days=("mon", "tue", "wed", "thu", "fri"), holidays="exclude"),
        RotaEntry(team="ok", channels=("chat",), agents=1, start="09:00", end="15:00",
                  when_absent="kss"),
    ]  # fmt: skip
    absences = [Absence.model_validate({"team": "kss", "from": "2021-11-16", "to": "2021-11-16"})]
    tl = rota_timeline(
        rota, absences, plan, first=dt.date(2021, 11, 15), last=dt.date(2021, 11, 16)
    )
    names = [f"{p.team}/{'+'.join(p.channels)}" for p in tl.pools]

    def at(day: int, hhmm: str) -> dict[str, int]:
        h, m = (int(x) for x in hhmm.split(":"))
        t = plan.instant(dt.date(2021, 11, day), h * 60 + m)
        state: dict[str, int] = {}
        for when, k, want in tl.changes:
            if when <= t:
                state[names[k]] = want
        return state

    assert at(15, "03:00") == {"ok/phone": 1}
    assert at(15, "10:00") == {"ok/phone": 1, "kss/phone": 2}
    assert at(15, "16:00") == {"ok/phone": 2, "kss/phone": 0}
    # Tuesday 16th: KSS absent, OK's stand-in takes the chat, KSS logs nobody in.
    assert at(16, "10:00") == {"ok/phone": 1, "kss/phone": 0, "ok/chat": 1}


# --------------------------------------------------------------- distributions


def test_a_lognormal_is_given_by_its_mean_and_standard_deviation() -> None:
    draw = Lognormal(dist="lognormal", mean=900, sd=600).sampler(random.Random(3))
    xs = [draw() for _ in range(40000)]
    assert statistics.fmean(xs) == pytest.approx(900, rel=0.03)
    assert statistics.stdev(xs) == pytest.approx(600, rel=0.06)


def test_an_empirical_distribution_only_returns_observed_values() -> None:
    draw = Empirical(dist="empirical", values=(60, 120, 1800)).sampler(random.Random(3))
    assert {draw() for _ in range(500)} == {60, 120, 1800}


def test_patience_mixes_early_leavers_with_the_rest() -> None:
    p = Patience.model_validate({"short_share": 0.2, "rest": {"dist": "fixed", "value": 300}})
    draw = p.sampler(random.Random(5))
    xs = [draw() for _ in range(20000)]
    early = [x for x in xs if x < 10]
    assert len(early) / len(xs) == pytest.approx(0.2, abs=0.01)
    assert all(x == 300 for x in xs if x >= 10)
    assert p.average == pytest.approx(0.2 * 5 + 0.8 * 300)


def test_a_uniform_needs_high_at_least_low() -> None:
    with pytest.raises(ValueError, match="high must be >= low"):
        Uniform(dist="uniform", low=5, high=1)


def test_a_linje_data_directory_is_replayed_from_its_event_log(
    tmp_path: Path, vo_config: HelplineConfig
) -> None:
    from adapters.store import EmbeddedStore
    from router import ContactArrived, ContactEnded

    plan = CoveragePlan(vo_config)
    t = plan.instant(dt.date(2021, 11, 15), 10 * 60)
    events = [
        ContactArrived(
            event_id="e1", at=t, source="carrier", contact_id="a", channel="phone", queue="phone"
        ),
        ContactEnded(event_id="e2", at=t + 5, source="carrier", contact_id="a"),
        ContactArrived(
            event_id="e3", at=t + 60, source="web", contact_id="b", channel="chat", queue="chat"
        ),
    ]
    with EmbeddedStore.open(tmp_path / "data", vo_config, fsync=False) as store:
        store.ingest(events)
    arrivals = read_replay(
        tmp_path / "data",
        None,
        plan,
        vo_config,
        first=dt.date(2021, 11, 15),
        last=dt.date(2021, 11, 15),
    )
    assert [(a.channel, a.at) for a in arrivals] == [("phone", t), ("chat", t + 60)]
