"""The Lua scripts: every write to a helpline's keys is one of these, atomic in Redis.

Two kinds of writer:

* any node appends adapter events (``APPEND``): each ``event_id`` is checked
  against its dedup key and appended to the log stream in the same atomic
  step, so two nodes receiving the same retry append it once;
* only the lease owner appends ticks (``TICK``), records outputs (``RECORD``)
  and writes snapshots (``SNAPSHOT``). Each of these first compares the lease
  key with the value the writer got when it took the lease (``<node>/<token>``,
  the token from ``INCR`` on every takeover) and refuses with ``LINJE_FENCED``
  otherwise: a paused or partitioned former owner cannot write, even if it
  still believes it holds the lease (Kleppmann, "How to do distributed locking",
  2016: the storage checks the fencing token, not the client).

Every script also checks the helpline's ``epoch`` (a random id set once): if
Redis lost the data and came back empty, no node acknowledges an append into a
log that is not the one it folded (``LINJE_EPOCH``).
"""

from __future__ import annotations

__all__ = [
    "ACQUIRE",
    "APPEND",
    "EPOCH_ERROR",
    "FENCED_ERROR",
    "FORGET",
    "INIT_META",
    "RECORD",
    "RELEASE",
    "RENEW",
    "SNAPSHOT",
    "TICK",
]

EPOCH_ERROR = "LINJE_EPOCH"
FENCED_ERROR = "LINJE_FENCED"

_ID_GT = """
local function id_gt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am > bm end
  return as > bs
end
"""

_EPOCH = f"""
if redis.call('HGET', KEYS[EPOCH_KEY], 'epoch') ~= ARGV[EPOCH_ARG] then
  return redis.error_reply('{EPOCH_ERROR} Redis does not hold the log this node folded')
end
"""

_FENCE = f"""
if redis.call('GET', KEYS[LEASE_KEY]) ~= ARGV[1] then
  return redis.error_reply('{FENCED_ERROR} the lease is no longer held with this fencing token')
end
"""


def _epoch(key: int, arg: int) -> str:
    return _EPOCH.replace("EPOCH_KEY", str(key)).replace("EPOCH_ARG", str(arg))


def _fence(key: int) -> str:
    return _FENCE.replace("LEASE_KEY", str(key))


# KEYS: meta, log.  ARGV: new epoch, fingerprint.  -> {epoch, fingerprint}
INIT_META = f"""
local e = redis.call('HGET', KEYS[1], 'epoch')
if e then return {{e, redis.call('HGET', KEYS[1], 'fingerprint') or ''}} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.error_reply('{EPOCH_ERROR} the helpline has a log but no epoch (keys deleted?)')
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'fingerprint', ARGV[2])
return {{ARGV[1], ARGV[2]}}
"""

# KEYS: log, meta, dedup_1..dedup_n.  ARGV: epoch, dedup ttl ms, payload_1..payload_n.
# -> {{1, id} | {0, id of the earlier append}, ...} in order.
APPEND = (
    _epoch(2, 1)
    + """
local out = {}
for i = 3, #KEYS do
  local old = redis.call('GET', KEYS[i])
  if old then
    out[#out + 1] = {0, old}
  else
    local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i])
    redis.call('SET', KEYS[i], id, 'PX', ARGV[2])
    out[#out + 1] = {1, id}
  end
end
return out
"""
)

# KEYS: log, lease, meta.  ARGV: lease value, epoch, payload.  -> id
TICK = (
    _epoch(3, 2)
    + _fence(2)
    + """
return redis.call('XADD', KEYS[1], '*', 'e', ARGV[3])
"""
)

# KEYS: out, out_cursor, lease, meta.
# ARGV: lease value, epoch, last folded id, id_1, payload_1, ..., id_n, payload_n.
# Outputs of ids at or before the cursor were recorded already (by this or an
# earlier owner) and are skipped: each input entry's outputs land exactly once.
# -> the new cursor
RECORD = (
    _ID_GT
    + _epoch(4, 2)
    + _fence(3)
    + """
local cur = redis.call('GET', KEYS[2]) or '0-0'
for i = 4, #ARGV, 2 do
  if id_gt(ARGV[i], cur) then
    redis.call('XADD', KEYS[1], ARGV[i], 'o', ARGV[i + 1])
  end
end
if id_gt(ARGV[3], cur) then
  redis.call('SET', KEYS[2], ARGV[3])
  cur = ARGV[3]
end
return cur
"""
)

# KEYS: snap, out_cursor, lease, meta.  ARGV: lease value, epoch, position, blob.
# A snapshot at a position whose outputs are not all recorded would let a node
# start past outputs that exist nowhere: refused (0) until they are.
SNAPSHOT = (
    _ID_GT
    + _epoch(4, 2)
    + _fence(3)
    + """
local cur = redis.call('GET', KEYS[2]) or '0-0'
if id_gt(ARGV[3], cur) then return 0 end
redis.call('SET', KEYS[1], ARGV[4])
return 1
"""
)

# KEYS: lease, token, meta.  ARGV: node id, ttl ms, epoch.
# -> {1, "<node>/<token>"} when taken, {0, current value} when held by someone.
ACQUIRE = (
    _epoch(3, 3)
    + """
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
local t = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. '/' .. t
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {1, v}
"""
)

# KEYS: lease.  ARGV: value, ttl ms.  -> 1 renewed, 0 lost
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease.  ARGV: value.  -> 1 released, 0 not ours
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: dedup key.  ARGV: the log id it must still point to.
# A refused event is forgotten, so that a corrected retry is judged afresh (as
# the embedded store does: it never remembers refused events).
FORGET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
