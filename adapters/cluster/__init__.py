"""Linje on Redis: several router nodes and helplines, hot standby, fencing.

``linje serve --store redis://HOST:PORT/DB`` (docs/REDIS.md). Per helpline a
Redis Stream is the ordered log (``keys``); any node appends events to it,
deduplicated atomically (``scripts.APPEND``); every node folds it into the same
``Router`` (``fold``); the node holding the helpline's lease (``lease``) moves
time and records outputs, every such write fenced by its token
(``scripts``). ``engine.RedisEngine`` is the service's engine on one node,
``node.RedisNode`` the process: its connection, leases and engines.
"""

from adapters.cluster.engine import RedisEngine
from adapters.cluster.keys import HelplineKeys, NodeKeys
from adapters.cluster.log import Durability, EpochChanged, Fenced, HelplineLog, NotDurable
from adapters.cluster.node import RedisNode, RedisOptions, check_store_url

__all__ = [
    "Durability",
    "EpochChanged",
    "Fenced",
    "HelplineKeys",
    "HelplineLog",
    "NodeKeys",
    "NotDurable",
    "RedisEngine",
    "RedisNode",
    "RedisOptions",
    "check_store_url",
]
