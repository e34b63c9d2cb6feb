"""``linje serve`` options for the Redis store, and the node they describe."""

from __future__ import annotations

import argparse
import os
import socket
from typing import TYPE_CHECKING

from adapters.cluster.keys import DEFAULT_LEASE_TTL_S, DEFAULT_PREFIX
from router.errors import ConfigError

if TYPE_CHECKING:  # redis-py is imported only for a Redis --store (node_from_args)
    from adapters.cluster.log import Durability
    from adapters.cluster.node import RedisNode

__all__ = ["add_store_arguments", "node_from_args"]

SNAPSHOT_KEY_ENV = "LINJE_SNAPSHOT_KEY"


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("store", "where the log lives (Redis: several nodes; docs/REDIS.md)")
    g.add_argument(
        "--store",
        default="embedded",
        help="'embedded' (the log in --data, the default) or redis://HOST:PORT/DB",
    )
    g.add_argument("--redis-prefix", default=DEFAULT_PREFIX, help="key prefix in Redis")
    g.add_argument(
        "--lease-ttl",
        type=float,
        default=DEFAULT_LEASE_TTL_S,
        help="seconds a helpline's owner may be silent before a standby takes over",
    )
    g.add_argument("--node-name", default=None, help="this node's name (default host:port)")
    g.add_argument(
        "--redis-waitaof",
        default=None,
        metavar="LOCAL,REPLICAS",
        help="acknowledge after WAITAOF LOCAL REPLICAS (Redis 7.2+), e.g. 1,0",
    )
    g.add_argument(
        "--redis-wait-replicas",
        type=int,
        default=0,
        help="acknowledge after WAIT N: N replicas received the event",
    )
    g.add_argument("--redis-wait-timeout", type=float, default=1.0, help="seconds for WAIT/WAITAOF")


def _durability(args: argparse.Namespace) -> Durability:
    from adapters.cluster.log import Durability

    local = replicas = 0
    if args.redis_waitaof:
        try:
            local, replicas = (int(x) for x in args.redis_waitaof.split(","))
        except ValueError:
            raise ConfigError(
                f"--redis-waitaof takes LOCAL,REPLICAS (e.g. 1,0), got {args.redis_waitaof!r}"
            ) from None
        if local not in (0, 1) or replicas < 0 or not (local or replicas):
            raise ConfigError("--redis-waitaof: LOCAL is 0 or 1, REPLICAS >= 0, not both 0")
    if args.redis_wait_replicas < 0:
        raise ConfigError("--redis-wait-replicas must be 0 or more")
    if not 0 < args.redis_wait_timeout <= 60:
        raise ConfigError("--redis-wait-timeout must be between 0 and 60 s")
    return Durability(
        waitaof_local=local,
        waitaof_replicas=replicas,
        wait_replicas=args.redis_wait_replicas,
        timeout_ms=int(args.redis_wait_timeout * 1000),
    )


def node_from_args(args: argparse.Namespace) -> RedisNode | None:
    """The Redis node ``--store`` asks for, or None for the embedded store."""
    if args.store == "embedded":
        return None
    if getattr(args, "demo", False):
        raise ConfigError("--demo runs on the embedded store; drop --store")
    from adapters.cluster.node import RedisNode, RedisOptions

    key = os.environ.get(SNAPSHOT_KEY_ENV)
    if key is not None and len(key) < 16:
        raise ConfigError(f"{SNAPSHOT_KEY_ENV} must be at least 16 characters")
    options = RedisOptions(
        url=args.store,
        prefix=args.redis_prefix,
        lease_ttl_s=args.lease_ttl,
        node_name=args.node_name or f"{socket.gethostname()}:{args.port}",
        durability=_durability(args),
        snapshot_key=key.encode() if key else None,
    )
    return RedisNode(options)
