"""Every Redis key name and every time-to-live of the Redis deployment, in one place.

The style of arq's ``constants.py``: nothing else in Linje spells a key. All
keys of one helpline share the hash tag ``{<prefix>:<helpline>}``, so a Lua
script that touches several of them stays on one Redis Cluster slot.

Per helpline (``H`` = ``<prefix>:{<prefix>:<helpline>}``):

=====================  ========  ====================================================
key                    type      what
=====================  ========  ====================================================
``H:log``              stream    the ordered input log: events (any node) and ticks
                                 (the lease owner); field ``e`` = msgpack entry
``H:out``              stream    outputs, written by the lease owner only: one entry
                                 per productive input entry, *with the same id*
``H:out_cursor``       string    last input id whose outputs are in ``H:out``
``H:lease``            string    ``<node id>/<token>`` of the owner, ``PX`` = lease TTL
``H:token``            string    fencing token counter (``INCR`` on every takeover)
``H:meta``             hash      ``epoch`` (random, set once), ``fingerprint``
``H:snap``             string    signed snapshot of the fold (optional)
``H:dedup:<event_id>`` string    input id of an accepted ``event_id``, ``PX`` = dedup
=====================  ========  ====================================================

Per deployment: ``<prefix>:nodes`` (set of node ids) and ``<prefix>:node:<id>``
(heartbeat, ``PX`` = node TTL).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BLOCK_MS",
    "DEFAULT_LEASE_TTL_S",
    "DEFAULT_PREFIX",
    "FOLD_WAIT_S",
    "OUTPUT_BATCH",
    "READ_BATCH",
    "SOCKET_TIMEOUT_S",
    "HelplineKeys",
    "NodeKeys",
]

DEFAULT_PREFIX = "linje"
# A dead owner leaves its helpline without timers (ring time-outs, handovers) for
# at most this long plus one lease-loop period; events are still accepted.
DEFAULT_LEASE_TTL_S = 5.0
# A node that cannot reach Redis answers 503 after at most this long.
SOCKET_TIMEOUT_S = 2.0
# Blocking stream reads wake at least this often (and at once on new entries).
BLOCK_MS = 1000
# How long a request waits for this node's fold to apply an appended event
# before answering 503 ("durable, result unknown": a retry answers duplicate).
FOLD_WAIT_S = 10.0
READ_BATCH = 1000
OUTPUT_BATCH = 500


@dataclass(frozen=True, slots=True)
class HelplineKeys:
    """The keys of one helpline."""

    prefix: str
    helpline: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.prefix}:{self.helpline}}}"

    @property
    def log(self) -> str:
        return f"{self.base}:log"

    @property
    def out(self) -> str:
        return f"{self.base}:out"

    @property
    def out_cursor(self) -> str:
        return f"{self.base}:out_cursor"

    @property
    def lease(self) -> str:
        return f"{self.base}:lease"

    @property
    def token(self) -> str:
        return f"{self.base}:token"

    @property
    def meta(self) -> str:
        return f"{self.base}:meta"

    @property
    def snap(self) -> str:
        return f"{self.base}:snap"

    def dedup(self, event_id: str) -> str:
        return f"{self.base}:dedup:{event_id}"

    def all_fixed(self) -> list[str]:
        """Every key except the per-event dedup keys (for clean-up tools and tests)."""
        return [self.log, self.out, self.out_cursor, self.lease, self.token, self.meta, self.snap]


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """The deployment-wide registry of live nodes."""

    prefix: str

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"
