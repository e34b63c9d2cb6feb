"""Linje on Redis: several router nodes and helplines, hot standby, fencing.

``linje serve --store redis://HOST:PORT/DB`` (docs/REDIS.md). Per helpline a
Redis Stream is the ordered log (``keys``); any node appends events to it,
deduplicated atomically (``scripts.APPEND``); every node folds it into the same
``Router`` (``fold``); the node holding the helpline's lease (``lease``) moves
time and records outputs, every such write fenced by its token
(``scripts``). ``engine.RedisEngine`` is the service's engine on one node,
``node.RedisNode`` the process: its connection, leases and engines.

Nothing is imported here: ``linje serve`` on the embedded store imports
``adapters.cluster.cli`` for its options and never loads redis-py (about a
fifth of a second of the service's start); import the modules themselves.
"""
