"""A node of a Redis deployment: the connection, the lease loop, one engine per helpline.

``linje serve --store redis://HOST:PORT/DB`` builds one ``RedisNode`` and hands
``node.engine`` to ``build_app`` as the engine factory; ``node.attach(app)``
ties the lease loop to the app's lifecycle (started before the helplines open,
stopped before they close, so that each closing owner records its outputs and
releases its lease for a standby to take at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from adapters.cluster.engine import RedisEngine
from adapters.cluster.keys import (
    BLOCK_MS,
    DEFAULT_LEASE_TTL_S,
    DEFAULT_PREFIX,
    SOCKET_TIMEOUT_S,
)
from adapters.cluster.lease import LeaseManager
from adapters.cluster.log import Durability
from adapters.http.clock import Clock
from router.config import HelplineConfig
from router.errors import ConfigError

__all__ = ["RedisNode", "RedisOptions", "check_store_url", "has_waitaof"]

log = logging.getLogger("linje.cluster")
SCHEMES = ("redis", "rediss", "unix")


def check_store_url(url: str) -> str:
    """The URL if it names a Redis server (``redis://HOST:PORT/DB``); ``ConfigError`` if not."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"--store must be 'embedded' or redis://HOST:PORT/DB (or rediss://, unix://), "
            f"got {url!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"--store {url!r}: the port is not a number") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"--store {url!r}: no host")
    db = parts.path.strip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise ConfigError(f"--store {url!r}: the database must be a number, got {db!r}")
    return url


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How a node uses Redis (see docs/REDIS.md)."""

    url: str
    prefix: str = DEFAULT_PREFIX
    lease_ttl_s: float = DEFAULT_LEASE_TTL_S
    node_name: str = field(default_factory=socket.gethostname)
    durability: Durability = field(default_factory=Durability)
    # Snapshots are signed with this key; without one none are written or read.
    snapshot_key: bytes | None = None

    def __post_init__(self) -> None:
        check_store_url(self.url)
        if not 0.2 <= self.lease_ttl_s <= 300:
            raise ConfigError(f"--lease-ttl must be between 0.2 and 300 s, got {self.lease_ttl_s}")
        if not self.prefix or any(c in self.prefix for c in "{}: "):
            raise ConfigError(f"--redis-prefix {self.prefix!r}: use letters, digits, - and _")
        if "/" in self.node_name or not self.node_name:
            raise ConfigError(f"--node-name {self.node_name!r} must be non-empty without '/'")


async def has_waitaof(client: Redis) -> bool:
    """Whether the server knows WAITAOF (7.2+); ``WAITAOF 0 0 0`` answers at once."""
    try:
        await client.execute_command("WAITAOF", 0, 0, 0)  # type: ignore[no-untyped-call]
    except ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return False
        raise
    return True


class RedisNode:
    """One process of a Redis deployment."""

    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        # Unique per process: a restarted node never mistakes the old lease for its own.
        self.node_id = f"{options.node_name}#{secrets.token_hex(3)}"
        self.client: Redis = Redis.from_url(
            options.url,
            socket_timeout=max(SOCKET_TIMEOUT_S, BLOCK_MS / 1000 + 1.0),
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            # No silent retries: an append is acknowledged or refused, never resent
            # behind the caller's back (our own loops decide what to retry).
            retry=Retry(NoBackoff(), 0),
            client_name=f"linje-{self.node_id}",  # CLIENT LIST shows which node is which
        )
        self.engines: dict[str, RedisEngine] = {}
        self.leases = LeaseManager(self)
        self._loop_task: asyncio.Task[None] | None = None
        self._checked = False

    def engine(
        self,
        config: HelplineConfig,
        clock: Clock,
        *,
        on_fatal: Callable[[BaseException], None] | None = None,
        snapshot_every: int = 10_000,
    ) -> RedisEngine:
        """The engine for one helpline (the ``build_app`` engine factory)."""
        engine = RedisEngine(config, clock, self, on_fatal=on_fatal, snapshot_every=snapshot_every)
        self.engines[config.id] = engine
        return engine

    async def check_server(self) -> None:
        """Once per node: the server can give the durability asked for; warn if it is weak."""
        if self._checked:
            return
        d = self.options.durability
        if (d.waitaof_local or d.waitaof_replicas) and not await has_waitaof(self.client):
            version = (await self.client.info("server")).get("redis_version", "?")
            raise ConfigError(
                f"--redis-waitaof needs Redis 7.2 or later (WAITAOF); the server at "
                f"{self.options.url} is {version}. Use appendfsync always there, or replicas "
                "with --redis-wait-replicas (docs/REDIS.md)"
            )
        with contextlib.suppress(ResponseError):  # CONFIG may be disabled (managed Redis)
            conf: Any = await self.client.config_get("append*")
            aof = conf.get("appendonly", conf.get(b"appendonly"))
            fsync = conf.get("appendfsync", conf.get(b"appendfsync"))
            aof = aof.decode() if isinstance(aof, bytes) else aof
            fsync = fsync.decode() if isinstance(fsync, bytes) else fsync
            if aof != "yes" and not d.wait_replicas:
                log.warning(
                    "cluster: Redis has no AOF (appendonly %s): acknowledged events are lost if "
                    "it restarts; see docs/REDIS.md",
                    aof,
                )
            elif aof == "yes" and fsync != "always" and not d.waitaof_local:
                log.warning(
                    "cluster: Redis AOF fsync is %r: up to about a second of acknowledged "
                    "events can be lost if its machine fails; see docs/REDIS.md",
                    fsync,
                )
        self._checked = True

    # ----------------------------------------------------------- lifecycle
    def attach(self, app: web.Application) -> None:
        """Run the lease loop for the app's lifetime; close the connection after the engines."""
        app.on_startup.insert(0, self._start)
        app.on_shutdown.append(self._stop_leasing)
        app.on_cleanup.append(self._close)

    async def _start(self, app: web.Application) -> None:
        await self.start()

    async def _stop_leasing(self, app: web.Application) -> None:
        await self.stop_leasing()

    async def _close(self, app: web.Application) -> None:
        await self.close()

    async def start(self) -> None:
        """Check the server (if it answers) and start the lease loop."""
        try:
            await self.check_server()
        except (RedisError, OSError) as exc:
            log.warning("cluster: Redis at %s is not reachable yet: %s", self.options.url, exc)
        self._loop_task = asyncio.create_task(self.leases.run(), name="leases")

    async def stop_leasing(self) -> None:
        """Stop taking and renewing leases (each engine releases its own when it closes)."""
        if self._loop_task is not None:
            self.leases.stop()
            self._loop_task.cancel()
            await asyncio.wait({self._loop_task}, timeout=5)
            self._loop_task = None

    async def close(self) -> None:
        """Release what this node still holds, leave the registry, close the connection."""
        await self.stop_leasing()
        try:
            for engine in self.engines.values():
                if engine.lease is not None:
                    await self.leases.release(engine)
        finally:
            await self.leases.leave()
            await self.client.aclose()
