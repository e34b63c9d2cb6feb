-- wrk script for benchmarks/bench_http.py: unique, valid events, one per request by default.
--
-- Usage: wrk -t2 -c32 -d10s -s benchmarks/wrk/events.lua URL -- ACK_DIR TOKEN RUN [BATCH]
-- With BATCH > 1 (default 1) each request is {"events": [...]} of BATCH
-- consecutive events instead of one event.
-- Each wrk thread numbers its own events. Event i of thread t is
--   even i: contact.arrived of contact r<RUN>t<t>c<i/2> on the phone queue;
--   odd i:  contact.abandoned of the contact that arrived 512 contacts earlier
--           (durable long since, whichever connection carried it), or another
--           arrival while at most 512 have arrived.
-- Every event a 200 answers as accepted has its event_id written to
-- ACK_DIR/acks-<RUN>-<t>.txt, so
-- that the log can be checked afterwards against exactly what was acknowledged.
-- done() prints one line "WRK_JSON {...}" with counts and latency percentiles (µs).

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local ack_file
local i = 0
local prefix
local acks = 0
local batch = 1

function init(args)
  local dir, token, run = args[1], args[2], args[3]
  batch = tonumber(args[4] or "1")
  prefix = "r" .. run .. "t" .. tid
  ack_file = io.open(dir .. "/acks-" .. run .. "-" .. tid .. ".txt", "w")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

local function event(kind, eid, cid, extra)
  return '{"type":"' .. kind .. '","event_id":"' .. eid .. '","at":"'
    .. os.date("!%Y-%m-%dT%H:%M:%S+00:00") .. '","source":"carrier","contact_id":"'
    .. cid .. '"' .. extra .. '}'
end

local function next_event()
  local k = math.floor(i / 2)
  local eid = prefix .. "e" .. i
  local body
  -- (wrk calls request() once before the run and drops that request: the
  -- contacts of its arrivals, c0 .. c<(BATCH-1)/2>, never arrive, so they are
  -- never abandoned)
  if i % 2 == 1 and k - 512 > math.floor((batch - 1) / 2) then
    body = event("contact.abandoned", eid, prefix .. "c" .. (k - 512), "")
  else
    local cid = (i % 2 == 0) and (prefix .. "c" .. k) or (prefix .. "x" .. k)
    body = event("contact.arrived", eid, cid, ',"channel":"phone","queue":"phone"')
  end
  i = i + 1
  return body
end

function request()
  if batch == 1 then
    return wrk.format(nil, nil, nil, next_event())
  end
  local parts = {}
  for n = 1, batch do
    parts[n] = next_event()
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end

function response(status, headers, body)
  if status == 200 then
    -- only what was accepted (a batch answers 200 with a status per event)
    for eid, st in string.gmatch(body, '"event_id":%s*"([^"]+)",%s*"status":%s*"(%a+)"') do
      if st == "accepted" then
        ack_file:write(eid, "\n")
        acks = acks + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local s = summary
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d}\n',
    s.requests, s.duration, s.errors.status, s.errors.connect, s.errors.read,
    s.errors.write, s.errors.timeout, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
