"""Several `linje serve --store redis://` processes, adapter traffic spread over them, and
the checks that the deployment behaved as one node would have.

``Traffic`` plays adapters: each worker runs contacts through their lives
(arrive, answered by an agent the answer's offer named, ended; or abandoned;
or left ringing until the ring times out), posting every event to the nodes
in turn and retrying the *same* event on the next node after a connection
error, a time-out or a 503, as a careful adapter does. It keeps every answer.

``verify`` then reads the log and the outputs from Redis and checks:
the recorded outputs equal a fresh fold of the log, entry by entry (so the
owners, whoever they were, recorded one history, nothing lost or doubled);
command seqs run 1..N without a gap; every event answered "accepted" is
accepted exactly once in that history and no event twice; no contact is
offered after it was answered, nor answered twice; and every live node's
statistics equal those of one embedded node fed the same log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import redis

from adapters.cluster.fold import Fold
from adapters.cluster.keys import HelplineKeys
from adapters.config_file import load_config
from adapters.store.embedded import EmbeddedStore
from adapters.store.entries import read_entries
from router import HelplineConfig, Router
from router.commands import command_to_dict
from router.events import event_from_dict
from router.records import record_to_dict
from router.stats import fold_for_config, stats_to_json
from tests.conftest import VO_LINJEN
from tests.http_helpers import bearer
from tests.serve_process import Server

HELPLINE = "vo_linjen"
AGENTS = [("kss-1", "kss"), ("kss-2", "kss"), ("kss-3", "kss"),
          ("ok-1", "ok"), ("ok-2", "ok"), ("ok-3", "ok")]  # fmt: skip
RING_S = 2  # short rings so that the owner's ticks matter within a test


def short_ring_config(tmp: Path) -> Path:
    """vo-linjen.toml with a 2 s phone ring time, so time-outs happen during the test."""
    text = VO_LINJEN.read_text()
    text, n = re.subn(r"(?m)^ring_timeout_s = 20\b", f"ring_timeout_s = {RING_S}", text)
    assert n == 1, "vo-linjen.toml changed: update short_ring_config"
    path = tmp / "vo-linjen-short-ring.toml"
    path.write_text(text)
    return path


class Node:
    """One `linje serve` process on the Redis store."""

    def __init__(self, tmp: Path, auth: Path, config: Path, *, url: str, prefix: str,
                 ttl: float, name: str) -> None:  # fmt: skip
        self.name = name
        (tmp / "data").mkdir(exist_ok=True)
        self.server = Server(tmp / "data", auth, "--store", url, "--redis-prefix", prefix,
                             "--lease-ttl", str(ttl), "--node-name", name, "--adapter-rate", "0",
                             config=config)  # fmt: skip
        self.base = self.server.base
        self.alive = True

    def log_text(self) -> str:
        return Path(self.server.log.name).read_text()


async def cluster_view(session: aiohttp.ClientSession, node: Node) -> dict[str, Any] | None:
    try:
        async with session.get(f"{node.base}/v1/state", headers=bearer("supervisor"),
                               timeout=aiohttp.ClientTimeout(total=1)) as r:  # fmt: skip
            if r.status != 200:
                return None
            return (await r.json())["cluster"]  # type: ignore[no-any-return]
    except (aiohttp.ClientError, TimeoutError):
        return None


async def wait_owner(session: aiohttp.ClientSession, nodes: list[Node], timeout: float = 15,
                     exclude: Node | None = None) -> Node:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            if node.alive and node is not exclude:
                view = await cluster_view(session, node)
                if view and view["owner"]:
                    return node
        await asyncio.sleep(0.05)
    raise AssertionError("no node took the lease")


def iso_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class CommandFeed:
    """An adapter's command stream (WebSocket), resumed from its cursor on the next live
    node whenever its node goes away; keeps every command it was sent."""

    def __init__(self, session: aiohttp.ClientSession, nodes: list[Node]) -> None:
        self.session, self.nodes = session, nodes
        self.seqs: list[int] = []
        self.reconnects = 0
        self.offers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._stop = asyncio.Event()

    def offer_for(self, contact: str) -> asyncio.Future[dict[str, Any]]:
        return self.offers.setdefault(contact, asyncio.get_running_loop().create_future())

    async def run(self) -> None:
        i = 0
        while not self._stop.is_set():
            node = self.nodes[i % len(self.nodes)]
            i += 1
            if not node.alive:
                continue
            cursor = self.seqs[-1] if self.seqs else 0
            url = f"{node.base.replace('http', 'ws')}/v1/commands?cursor={cursor}"
            try:
                async with self.session.ws_connect(url, headers=bearer("carrier"),
                                                   heartbeat=1.0) as ws:  # fmt: skip
                    self.reconnects += 1
                    while not self._stop.is_set():
                        try:
                            msg = await ws.receive(timeout=0.5)
                        except TimeoutError:
                            continue
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            break
                        self._take(json.loads(msg.data))
            except (aiohttp.ClientError, TimeoutError, ConnectionError):
                await asyncio.sleep(0.1)

    def _take(self, command: dict[str, Any]) -> None:
        if "seq" not in command:
            return  # the hello
        self.seqs.append(command["seq"])
        if command["type"] == "offer":
            fut = self.offer_for(command["contact_id"])
            if not fut.done():
                fut.set_result(command)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Traffic:
    """Adapters posting to every live node in turn, retrying on the next one."""

    session: aiohttp.ClientSession
    nodes: list[Node]
    workers: int = 4
    seed: int = 1
    retry_for_s: float = 20.0
    feed: CommandFeed | None = None
    answers: dict[str, str] = field(default_factory=dict)  # event_id -> final status
    unavailable: list[tuple[int, str, str]] = field(default_factory=list)  # 503s seen
    posts: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, event: dict[str, Any], start: int) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + self.retry_for_s
        i = start
        while True:
            node = self.nodes[i % len(self.nodes)]
            i += 1
            if not node.alive:
                continue
            try:
                async with self.session.post(
                    f"{node.base}/v1/events", json=event, headers=bearer("carrier"),
                    timeout=aiohttp.ClientTimeout(total=3),
                ) as r:  # fmt: skip
                    body = await r.json(content_type=None)
                    self.posts += 1
                    if r.status == 503:
                        self.unavailable.append((r.status, r.content_type, body["type"]))
                    else:
                        self._remember(event["event_id"], r.status, body)
                        return r.status, body
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.answers[event["event_id"]] = "unanswered"
                return 0, {}
            await asyncio.sleep(0.05)

    def _remember(self, event_id: str, status: int, body: dict[str, Any]) -> None:
        if status == 200:
            self.answers[event_id] = body["results"][0]["status"]
        else:
            self.answers[event_id] = f"http-{status}"

    async def login_all(self) -> None:
        for i, (agent, team) in enumerate(AGENTS):
            await self.post({"event_id": f"login-{agent}", "type": "agent.logged_in",
                             "at": iso_now(), "source": "carrier", "agent_id": agent,
                             "team": team, "channels": ["phone"]}, i)  # fmt: skip

    async def _worker(self, w: int) -> None:
        rng = random.Random(self.seed * 1000 + w)
        n = 0
        while not self._stop.is_set():
            n += 1
            cid = f"w{w}-c{n}"
            ev = {"source": "carrier", "contact_id": cid}
            status, body = await self.post({**ev, "event_id": f"{cid}-in", "type": "contact.arrived",
                                             "at": iso_now(), "channel": "phone", "queue": "phone"},
                                            w + n)  # fmt: skip
            offer = await self._offer(cid, status, body)
            roll = rng.random()
            if offer is not None and roll < 0.75:
                await asyncio.sleep(rng.uniform(0.02, 0.2))
                status, _ = await self.post({**ev, "event_id": f"{cid}-ans", "type": "contact.answered",
                                             "at": iso_now(), "agent_id": rng.choice(offer["agent_ids"])},
                                            w + n + 1)  # fmt: skip
                if status == 200:
                    await asyncio.sleep(rng.uniform(0.05, 0.3))
                    await self.post({**ev, "event_id": f"{cid}-end", "type": "contact.ended",
                                     "at": iso_now()}, w + n + 2)  # fmt: skip
                    continue
            elif roll > 0.9:
                await asyncio.sleep(RING_S + 0.5)  # rings out: the owner's tick withdraws it
            else:
                await asyncio.sleep(rng.uniform(0.05, 0.3))
            await self.post({**ev, "event_id": f"{cid}-gone", "type": "contact.abandoned",
                             "at": iso_now()}, w + n + 3)  # fmt: skip

    async def _offer(self, cid: str, status: int, body: dict[str, Any]) -> dict[str, Any] | None:
        """The offer in the arrival's answer, or the one pushed on the command stream soon."""
        for c in body.get("results", [{}])[0].get("commands", []) if status == 200 else []:
            if c["type"] == "offer" and c["contact_id"] == cid:
                return c  # type: ignore[no-any-return]
        if self.feed is None or status != 200:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self.feed.offer_for(cid)), 1.0)
        except TimeoutError:
            return None

    async def run(self) -> None:
        self.feed = CommandFeed(self.session, self.nodes)
        feed = asyncio.create_task(self.feed.run())
        await asyncio.gather(*(self._worker(w) for w in range(self.workers)))
        await asyncio.sleep(0.5)  # the last commands reach the stream
        self.feed.stop()
        await feed

    def stop(self) -> None:
        self._stop.set()


# --------------------------------------------------------------------- checks
def read_log(client: redis.Redis, prefix: str) -> list[tuple[str, bytes]]:
    keys = HelplineKeys(prefix, HELPLINE)
    return [(sid.decode(), f[b"e"]) for sid, f in client.xrange(keys.log)]


def read_outputs(client: redis.Redis, prefix: str) -> dict[str, dict[str, Any]]:
    keys = HelplineKeys(prefix, HELPLINE)
    return {sid.decode(): msgpack.unpackb(f[b"o"]) for sid, f in client.xrange(keys.out)}


async def quiesce(session: aiohttp.ClientSession, nodes: list[Node], client: redis.Redis,
                  prefix: str, timeout: float = 20) -> None:  # fmt: skip
    """Until every live node has folded the whole log and the owner recorded everything."""
    keys = HelplineKeys(prefix, HELPLINE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = client.xrevrange(keys.log, "+", "-", count=1)
        tail = rows[0][0].decode() if rows else "0-0"
        views = [await cluster_view(session, n) for n in nodes if n.alive]
        owners = [v for v in views if v and v["owner"]]
        if (all(v and v["position"] == tail for v in views) and len(owners) == 1
                and owners[0]["unrecorded"] == 0):  # fmt: skip
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the nodes did not settle: {views}")


def replay(config: HelplineConfig, log: list[tuple[str, bytes]]) -> tuple[Fold, list[Any]]:
    fold = Fold(Router(config))
    return fold, [fold.apply(sid, payload) for sid, payload in log]


def verify(client: redis.Redis, prefix: str, config_path: Path, traffic: Traffic, *,
           stats_by_node: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:  # fmt: skip
    """The checks of the module docstring; returns figures for the test to report."""
    config = load_config(config_path)
    log = read_log(client, prefix)
    recorded = read_outputs(client, prefix)
    _, applied = replay(config, log)
    # 1. One history: what the owners recorded is what one fold of the log produces.
    expected = {
        a.sid: {"c": [command_to_dict(c) for c in a.commands],
                "r": [record_to_dict(r) for r in a.records]}
        for a in applied if a.commands or a.records
    }  # fmt: skip
    got = {sid: {"c": o["c"], "r": o["r"]} for sid, o in recorded.items()}
    assert got == expected, _first_difference(got, expected)
    seqs = [c["seq"] for sid in sorted(got, key=_sid) for c in got[sid]["c"]]
    assert seqs == list(range(1, len(seqs) + 1))
    # The adapter's command stream, resumed across nodes, got each command once, in order.
    if traffic.feed is not None:
        fed = traffic.feed.seqs
        assert fed == list(range(1, len(fed) + 1)) and len(fed) >= len(seqs) - 5
    # 2. Acknowledged events: accepted once; nothing applied twice.
    accepted = Counter(a.result.event_id for a in applied
                       if a.result is not None and a.result.status == "accepted")  # fmt: skip
    assert max(accepted.values()) == 1
    for event_id, answer in traffic.answers.items():
        assert answer != "unanswered", event_id
        if answer == "accepted":
            assert accepted[event_id] == 1, event_id
    in_log = Counter(_event_id(p) for _, p in log)
    for event_id, answer in traffic.answers.items():
        if answer in ("accepted", "duplicate"):
            assert in_log[event_id] >= 1, event_id
    # 3. Contacts: never offered after being answered, never answered twice.
    answered: dict[str, int] = {}
    for a in applied:
        for c in a.commands:
            if c.type == "offer":
                assert c.contact_id not in answered, f"{c.contact_id} offered after its answer"
        r = a.result
        if r is not None and r.status == "accepted" and r.event_id.endswith("-ans"):
            cid = r.event_id[: -len("-ans")]
            answered[cid] = answered.get(cid, 0) + 1
    assert all(n == 1 for n in answered.values())
    # 4. One embedded node fed the same log gives the same figures as every live node.
    single = single_node_stats(config, log, tmp / "single")
    for stats in stats_by_node:
        assert stats == single
    return {"entries": len(log), "accepted": sum(accepted.values()), "answered": len(answered),
            "commands": len(seqs), "ticks": sum(1 for a in applied if a.kind == "tick"),
            "stream_reconnects": traffic.feed.reconnects if traffic.feed else 0}  # fmt: skip


def single_node_stats(config: HelplineConfig, log: list[tuple[str, bytes]], data: Path) -> dict[str, Any]:  # fmt: skip
    """Stats of an embedded store fed the log's events (``ingest``) and ticks (``tick``)."""
    with EmbeddedStore.open(data, config, fsync=False) as store:
        for _, payload in log:
            raw = msgpack.unpackb(payload)
            if raw["k"] == "tick":
                store.tick(float(raw["at"]))
            else:
                store.ingest([event_from_dict(raw["event"])])
    records = [r for entry in read_entries(data) for r in entry.records]
    return stats_to_json(fold_for_config(records, config, group_by=("channel", "team")))


def _event_id(payload: bytes) -> str | None:
    raw = msgpack.unpackb(payload)
    return raw["event"]["event_id"] if raw["k"] == "event" else None


def _sid(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq)


def _first_difference(got: dict[str, Any], expected: dict[str, Any]) -> str:
    for sid in sorted(set(got) | set(expected), key=_sid):
        if got.get(sid) != expected.get(sid):
            return f"entry {sid}: recorded {got.get(sid)!r}, replayed {expected.get(sid)!r}"
    return "equal"
