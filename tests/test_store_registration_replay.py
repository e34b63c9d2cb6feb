"""A log holding content registrations (multiple-choice answers) recovers, and to the same state.

The trusted decode recovery uses for speed left a ``contact.registered``'s
answers as msgpack's lists, which ``Router.apply`` refuses (it wants tuples):
a helpline that had registered one contact could not restart. Such entries are
decoded with their checks (``recovery.DECODED_CHECKED``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.store import EmbeddedStore
from router import HelplineConfig, checkpoint
from router.core import Router
from router.events import Event
from router.step import Step
from router.testing import Script

ANSWERS = {"who": "exposed", "age": "age_31_40", "gender": "woman", "first_contact": "no",
           "violence": ["physical_psychological", "economic"], "help": ["unknown"],
           "referrals": ["crisis_centre"], "target_group": "yes", "ongoing": "yes"}  # fmt: skip


class Recording:
    """A router that remembers what it was fed, in order (events, and ticks as times)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.fed: list[Event | float] = []

    def apply(self, event: Event) -> Step:
        self.fed.append(event)
        return self.router.apply(event)

    def advance(self, now: float) -> Step:
        self.fed.append(now)
        return self.router.advance(now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.router, name)


def test_a_log_with_a_registration_recovers_to_the_live_state(
    vo_config: HelplineConfig, tmp_path: Path
) -> None:
    rec = Recording(Router(vo_config))
    s = Script(rec, source="kss-1")  # type: ignore[arg-type]
    s.at("2021-11-15 10:00")
    s.login("kss-1", "kss", ("phone",))
    s.arrive("c1", "phone")
    s.answer("c1", "kss-1")
    s.after(300)
    s.end("c1")
    s.after(30)
    assert s.register("c1", "kss-1", ANSWERS, version=4) is not None
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        for item in rec.fed:
            if isinstance(item, float):
                store.tick(item)
            else:
                assert [r.status for r in store.ingest([item])] == ["accepted"]
        assert store.router.registration_count("c1") == 1
        live = checkpoint.dump(store.router)
        last = store.last_seq
    with EmbeddedStore.open(tmp_path, vo_config, fsync=False) as store:
        assert (store.recovery_report["entries_replayed"], store.last_seq) == (last, last)
        assert store.recovery_report["diverged"] == 0
        assert checkpoint.dump(store.router) == live
