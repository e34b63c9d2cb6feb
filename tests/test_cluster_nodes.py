"""Two or three nodes of a Redis deployment in one process, against the real Redis.

Each node is the real app (``build_app`` with the Redis engine factory) behind
aiohttp's test client; they share a hand-moved clock. Every test uses its own
key prefix and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis
from aiohttp.test_utils import TestClient

from adapters.cluster import recovery as cluster_recovery
from adapters.cluster.codec import SnapshotState, sign_snapshot
from adapters.cluster.engine import RedisEngine
from adapters.cluster.keys import HelplineKeys
from adapters.cluster.log import Durability
from adapters.cluster.node import RedisNode, RedisOptions, has_waitaof
from adapters.http.app import build_app
from router import HelplineConfig, Router
from router.errors import ConfigError
from tests.http_helpers import Events, ManualClock, auth, bearer
from tests.redis_helpers import SHARED_URL, drop_prefix, ensure_shared_redis, new_prefix

MONDAY = "2021-11-15 10:00"
TTL = 1.0


@pytest.fixture
def shared() -> redis.Redis:
    return ensure_shared_redis()


@pytest.fixture
def prefix(shared: redis.Redis) -> AsyncIterator[str]:
    p = new_prefix()
    yield p  # type: ignore[misc]
    drop_prefix(shared, p)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


class Cluster:
    """Starts nodes (apps) on demand; all share the clock, the prefix and the config."""

    def __init__(self, aiohttp_client, tmp: Path, prefix: str, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
        self.make_client, self.tmp, self.prefix, self.clock = aiohttp_client, tmp, prefix, clock
        self.nodes: list[tuple[RedisNode, TestClient]] = []
        self.fatal: list[BaseException] = []

    async def start(self, configs: list[HelplineConfig], name: str, *, ttl: float = TTL,
                    key: bytes | None = None, snapshot_every: int = 10_000,
                    durability: Durability | None = None, wait: bool = True) -> tuple[RedisNode, TestClient]:  # fmt: skip
        options = RedisOptions(url=SHARED_URL, prefix=self.prefix, lease_ttl_s=ttl, node_name=name,
                               snapshot_key=key, durability=durability or Durability())  # fmt: skip
        node = RedisNode(options)
        factory = functools.partial(node.engine, on_fatal=self.fatal.append,
                                    snapshot_every=snapshot_every)  # fmt: skip
        app = build_app(configs, self.tmp, auth(), clock=self.clock, engine_factory=factory)
        node.attach(app)
        client: TestClient = await self.make_client(app)
        self.nodes.append((node, client))
        if wait:
            await until(lambda: all(e.ready for e in node.engines.values()), f"{name} ready")
        return node, client

    async def owner(self, helpline: str = "vo_linjen") -> tuple[RedisEngine, TestClient]:
        def find() -> Any:
            for node, client in self.nodes:
                e = node.engines.get(helpline)
                if e is not None and e.lease is not None and e.owner_ready:
                    return e, client
            return None

        await until(find, f"an owner of {helpline}")
        return find()  # type: ignore[no-any-return]

    def standby(self, helpline: str = "vo_linjen") -> tuple[RedisEngine, TestClient]:
        for node, client in self.nodes:
            e = node.engines[helpline]
            if e.lease is None:
                return e, client
        raise AssertionError("no standby")


async def until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def cluster(
    aiohttp_client, tmp_path: Path, prefix: str, clock: ManualClock
) -> AsyncIterator[Cluster]:  # type: ignore[no-untyped-def]
    c = Cluster(aiohttp_client, tmp_path, prefix, clock)
    yield c
    for _, client in reversed(c.nodes):  # before the prefix is dropped
        await client.close()


async def post(client: TestClient, body: Any, who: str = "carrier") -> Any:
    r = await client.post("/v1/events", json=body, headers=bearer(who))
    return r.status, await r.json()


def outputs(shared: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    keys = HelplineKeys(prefix, "vo_linjen")
    return {sid.decode(): msgpack.unpackb(f[b"o"]) for sid, f in shared.xrange(keys.out)}


def log_entries(shared: redis.Redis, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    keys = HelplineKeys(prefix, "vo_linjen")
    return [(sid.decode(), msgpack.unpackb(f[b"e"])) for sid, f in shared.xrange(keys.log)]


def public_state(snap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if k not in ("server_time", "cluster")}


async def test_an_event_posted_to_a_standby_gets_the_commands_the_owner_records(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    await cluster.start([vo_config], "a")
    await cluster.start([vo_config], "b")
    _owner, owner_client = await cluster.owner()
    _standby, standby_client = cluster.standby()
    ev = Events(clock)
    for agent in ("kss-1", "kss-2"):
        status, _ = await post(owner_client, ev("agent.logged_in", agent_id=agent, team="kss",
                                                channels=["phone"]))  # fmt: skip
        assert status == 200
    status, body = await post(standby_client, ev("contact.arrived", contact_id="tn-1",
                                                 channel="phone", queue="phone"))  # fmt: skip
    (result,) = body["results"]
    assert (status, result["status"]) == (200, "accepted")
    assert [(c["type"], c["agent_ids"]) for c in result["commands"]] == [
        ("offer", ["kss-1", "kss-2"])
    ]
    # The owner records the same command, under the arrival's own log entry.
    await until(lambda: any(o["c"] == result["commands"] for o in outputs(shared, prefix).values()),
                "the owner's record")  # fmt: skip
    recorded = [c for o in outputs(shared, prefix).values() for c in o["c"]]
    assert [c["seq"] for c in recorded] == list(range(1, len(recorded) + 1))
    a = await (await owner_client.get("/v1/state", headers=bearer("supervisor"))).json()
    b = await (await standby_client.get("/v1/state", headers=bearer("supervisor"))).json()
    assert public_state(a) == public_state(b)
    assert (a["cluster"]["owner"], b["cluster"]["owner"]) == (True, False)
    # Each node's metrics count the events it took.
    text = await (await standby_client.get("/metrics", headers=bearer("supervisor"))).text()
    ingested = [line for line in text.splitlines()
                if line.startswith("linje_events_ingested") and 'type="contact.arrived"' in line]  # fmt: skip
    assert ingested and ingested[0].endswith(" 1.0")


async def test_time_is_moved_by_the_owner_and_pushed_on_a_standbys_command_stream(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock
) -> None:
    await cluster.start([vo_config], "a")
    await cluster.start([vo_config], "b")
    owner, owner_client = await cluster.owner()
    standby, standby_client = cluster.standby()
    ev = Events(clock)
    await post(standby_client, ev("agent.logged_in", agent_id="kss-1", team="kss",
                                  channels=["phone"]))  # fmt: skip
    ws = await standby_client.ws_connect("/v1/commands", headers=bearer("carrier"))
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "hello"
    await post(standby_client, ev("contact.arrived", contact_id="tn-1", channel="phone",
                                  queue="phone"))  # fmt: skip
    offer = json.loads((await ws.receive(timeout=5)).data)
    assert (offer["type"], offer["contact_id"]) == ("offer", "tn-1")
    clock.t += 20  # the ring times out; only the owner's tick makes it happen
    standby.poke()
    owner.poke()
    cancel = json.loads((await ws.receive(timeout=5)).data)
    assert (cancel["type"], cancel["seq"]) == ("cancel_offer", offer["seq"] + 1)
    entries = log_entries(cluster_shared(), cluster.prefix)
    ticks = [raw for _, raw in entries if raw["k"] == "tick"]
    assert ticks and {t["n"] for t in ticks} == {owner.node.node_id}
    await ws.close()
    # An adapter resumes from its cursor on the other node.
    r = await owner_client.get(f"/v1/commands?cursor={offer['seq'] - 1}", headers=bearer("carrier"))
    assert [c["seq"] for c in (await r.json())["commands"]] == [offer["seq"], cancel["seq"]]


def cluster_shared() -> redis.Redis:
    return ensure_shared_redis()


async def test_the_same_event_on_two_nodes_at_once_is_appended_once(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    _, a = await cluster.start([vo_config], "a")
    _, b = await cluster.start([vo_config], "b")
    ev = Events(clock)
    events = [ev("agent.logged_in", agent_id=f"kss-{i}", team="kss", channels=["phone"])
              for i in range(20)]  # fmt: skip
    answers = await asyncio.gather(*(post(n, e) for e in events for n in (a, b)))
    for i in range(20):
        statuses = sorted(answers[2 * i + j][1]["results"][0]["status"] for j in (0, 1))
        assert statuses == ["accepted", "duplicate"]
    ids = [
        raw["event"]["event_id"] for _, raw in log_entries(shared, prefix) if raw["k"] == "event"
    ]
    assert sorted(ids) == sorted(e["event_id"] for e in events)


async def test_a_refused_event_is_forgotten_so_its_retry_is_judged_afresh(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock
) -> None:
    _, a = await cluster.start([vo_config], "a")
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    answer = ev("contact.answered", contact_id="tn-1", agent_id="kss-1")
    status, problem = await post(a, answer)
    assert (status, problem["type"]) == (422, "urn:linje:problem:unknown-contact")
    await post(a, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    status, body = await post(a, answer)  # same event_id, now valid
    assert (status, body["results"][0]["status"]) == (200, "accepted")
    status, body = await post(a, answer)
    assert body["results"][0]["status"] == "duplicate"


async def test_a_refused_event_whose_node_died_before_forgetting_it_is_judged_afresh(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    _, a = await cluster.start([vo_config], "a")
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    answer = ev("contact.answered", contact_id="tn-1", agent_id="kss-1")
    status, _ = await post(a, answer)
    assert status == 422
    # As if the node had died between the refusal and forgetting the dedup key:
    refused = [sid for sid, raw in log_entries(shared, prefix)
               if raw["k"] == "event" and raw["event"]["event_id"] == answer["event_id"]]  # fmt: skip
    shared.set(HelplineKeys(prefix, "vo_linjen").dedup(answer["event_id"]), refused[0])
    status, problem = await post(a, answer)  # judged again, not "duplicate"
    assert (status, problem["type"]) == (422, "urn:linje:problem:unknown-contact")
    await post(a, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    shared.set(HelplineKeys(prefix, "vo_linjen").dedup(answer["event_id"]), refused[0])
    status, body = await post(a, answer)
    assert (status, body["results"][0]["status"]) == (200, "accepted")


async def test_an_event_that_trips_a_bug_in_the_core_is_skipped_by_every_node(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    class Buggy(Router):
        def apply(self, event: Any) -> Any:
            if event.event_id == "carrier-2":
                self._agents.clear()  # half-way through, then
                raise RuntimeError("a bug in the core")
            return super().apply(event)

    monkeypatch.setattr(cluster_recovery, "Router", Buggy)  # what a node folds with
    _, a = await cluster.start([vo_config], "a")
    _, b = await cluster.start([vo_config], "b")
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    poison = ev("agent.logged_in", agent_id="kss-2", team="kss", channels=["phone"])
    status, problem = await post(b, poison)
    assert (status, problem["type"]) == (500, "urn:linje:problem:internal")
    engines = [node.engines["vo_linjen"] for node, _ in cluster.nodes]
    await until(lambda: all(e.ready for e in engines), "both nodes to fold again")
    status, problem = await post(a, poison)  # a retry does not trip it again
    assert status == 500
    status, body = await post(a, ev("contact.arrived", contact_id="tn-1", channel="phone",
                                    queue="phone"))  # fmt: skip
    assert [c["agent_ids"] for c in body["results"][0]["commands"]] == [["kss-1"]]
    _, c = await cluster.start([vo_config], "c")  # folds from scratch, meets it too
    states = [await (await n.get("/v1/state", headers=bearer("supervisor"))).json()
              for n in (a, b, c)]  # fmt: skip
    assert public_state(states[0]) == public_state(states[1]) == public_state(states[2])
    assert {len(e.skip) for e in engines} == {1}
    await cluster.owner()  # someone routes again


async def test_a_paused_owner_is_fenced_off_and_steps_down(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    node_a, a = await cluster.start([vo_config], "a")
    old, _ = await cluster.owner()
    node_b, _b = await cluster.start([vo_config], "b")
    assert old.node is node_a
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    await post(a, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    # A pause: node a stops renewing but its clock says the lease is still good,
    # exactly the case that only the fencing token in Redis can catch.
    await node_a.stop_leasing()
    lease = old.lease
    assert lease is not None
    lease.valid_until = float("inf")
    new = await until(lambda: node_b.engines["vo_linjen"].owner_ready and node_b.engines["vo_linjen"],
                      "node b to take over")  # fmt: skip
    assert new.lease.token == lease.token + 1
    before = len(log_entries(shared, prefix))
    clock.t += 20  # a ring time-out: both believe they should tick
    old.poke()
    await until(lambda: old.lease is None, "the old owner to step down")
    assert old.fenced_writes == 1
    new.poke()
    await until(lambda: len(log_entries(shared, prefix)) > before, "the new owner's tick")
    after = log_entries(shared, prefix)[before:]
    assert {raw["tok"] for _, raw in after if raw["k"] == "tick"} == {new.lease.token}
    toks = {o["tok"] for sid, o in outputs(shared, prefix).items() if sid > after[0][0]}
    assert toks <= {new.lease.token}
    status, _ = await post(a, ev("contact.abandoned", contact_id="tn-1"))
    assert status == 200  # the stepped-down node still takes events, as a standby


async def test_a_stopping_owner_hands_its_lease_over_without_waiting_for_it_to_expire(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    # A 60 s lease: only a release can let the standby in within the wait below.
    _, a = await cluster.start([vo_config], "a", ttl=60)
    old, old_client = await cluster.owner()
    node_b, b = await cluster.start([vo_config], "b", ttl=60)
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    await post(b, ev("contact.arrived", contact_id="tn-1", channel="phone", queue="phone"))
    token = old.lease.token  # type: ignore[union-attr]
    await old_client.close()  # SIGTERM: outputs recorded, lease released
    new = node_b.engines["vo_linjen"]
    await until(lambda: new.owner_ready, "node b to take over")
    assert new.lease.token == token + 1  # type: ignore[union-attr]
    recorded = [c["type"] for o in outputs(shared, prefix).values() for c in o["c"]]
    assert "offer" in recorded  # recorded by the old owner before it let go


async def test_two_helplines_spread_over_two_nodes(
    cluster: Cluster, vo_config: HelplineConfig
) -> None:
    other = vo_config.model_copy(update={"id": "vo_linjen_2"})
    node_a, _ = await cluster.start([vo_config, other], "a")
    await until(lambda: len(node_a.leases.held) == 2, "node a to own both while alone")
    node_b, _ = await cluster.start([vo_config, other], "b")
    await until(lambda: len(node_a.leases.held) == 1 and len(node_b.leases.held) == 1,
                "one helpline each", timeout=15)  # fmt: skip
    assert set(node_a.leases.held) | set(node_b.leases.held) == {"vo_linjen", "vo_linjen_2"}


async def test_a_node_starts_from_a_signed_snapshot_and_ignores_a_forged_one(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    key = b"snapshot-key-for-tests-0001"
    node_a, a = await cluster.start([vo_config], "a", key=key, snapshot_every=5)
    await cluster.owner()
    ev = Events(clock)
    for i in range(4):
        await post(a, ev("agent.logged_in", agent_id=f"kss-{i}", team="kss", channels=["phone"]))
    for i in range(8):
        clock.t += 1
        await post(a, ev("contact.arrived", contact_id=f"c{i}", channel="phone", queue="phone"))
    snap_key = HelplineKeys(prefix, "vo_linjen").snap
    await until(lambda: shared.exists(snap_key), "a snapshot")
    node_b, b = await cluster.start([vo_config], "b", key=key)
    started = node_b.engines["vo_linjen"].started_from
    assert started is not None and started >= 5
    sa = await (await a.get("/v1/state", headers=bearer("supervisor"))).json()
    sb = await (await b.get("/v1/state", headers=bearer("supervisor"))).json()
    assert public_state(sa) == public_state(sb)
    stats = "/v1/stats?group_by=channel,team"
    assert (
        await (await a.get(stats, headers=bearer("planner"))).json()
        == await (await b.get(stats, headers=bearer("planner"))).json()
    )
    # A snapshot signed with another key is never unpickled: full fold instead.
    engine_a = node_a.engines["vo_linjen"]
    forged = SnapshotState(Router(vo_config), engine_a.fold.position, 999, engine_a.fingerprint)  # type: ignore[union-attr]
    shared.set(snap_key, sign_snapshot(forged, b"not-the-nodes-key-000"))
    node_c, c = await cluster.start([vo_config], "c", key=key)
    assert node_c.engines["vo_linjen"].started_from is None
    sc = await (await c.get("/v1/state", headers=bearer("supervisor"))).json()
    assert public_state(sc) == public_state(sa)


async def test_redis_losing_the_log_stops_the_node_instead_of_acknowledging(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    _, a = await cluster.start([vo_config], "a")
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    drop_prefix(shared, prefix)  # Redis came back empty
    status, problem = await post(a, ev("agent.logged_in", agent_id="kss-2", team="kss",
                                       channels=["phone"]))  # fmt: skip
    assert status == 503 and problem["type"] == "urn:linje:problem:not-ready"
    assert "not hold the log" in problem["detail"]
    assert cluster.fatal and (await a.get("/readyz")).status == 503


async def test_a_node_whose_folded_entries_redis_lost_stops(
    cluster: Cluster, vo_config: HelplineConfig, clock: ManualClock, shared: redis.Redis,
    prefix: str,
) -> None:  # fmt: skip
    node, a = await cluster.start([vo_config], "a")
    ev = Events(clock)
    await post(a, ev("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"]))
    engine = node.engines["vo_linjen"]
    last = engine.fold.position  # type: ignore[union-attr]
    # As after a failover to a replica that lacked the last write: the entry is gone
    # and the node's connections drop.
    shared.xdel(HelplineKeys(prefix, "vo_linjen").log, last)
    for c in shared.client_list():
        if c["name"] == f"linje-{node.node_id}":
            shared.client_kill_filter(_id=c["id"])
    await until(lambda: engine.failed, "the node to stop")
    assert "lost log entries this node folded" in engine.failed.detail  # type: ignore[union-attr]
    assert (await a.get("/readyz")).status == 503


async def test_a_node_with_another_configuration_is_refused_while_others_run(
    cluster: Cluster, vo_config: HelplineConfig
) -> None:
    await cluster.start([vo_config], "a")
    changed = vo_config.model_copy(update={"clock_tolerance_s": 5.0})
    node_b, b = await cluster.start([changed], "b", wait=False)
    engine = node_b.engines["vo_linjen"]
    await until(lambda: engine.failed, "node b to refuse")
    assert isinstance(engine.failed, ConfigError)
    assert "other routing code or configuration" in engine.failed.detail
    assert (await b.get("/readyz")).status == 503
    assert engine.lease is None


async def test_waitaof_is_refused_on_a_server_without_it(
    vo_config: HelplineConfig, shared: redis.Redis, prefix: str
) -> None:
    node = RedisNode(RedisOptions(url=SHARED_URL, prefix=prefix,
                                  durability=Durability(waitaof_local=1)))  # fmt: skip
    try:
        if await has_waitaof(node.client):  # Redis 7.2+: it is used
            await node.check_server()
        else:
            with pytest.raises(ConfigError) as info:
                await node.check_server()
            assert "needs Redis 7.2" in info.value.detail
    finally:
        await node.client.aclose()
