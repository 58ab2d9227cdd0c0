-- wrk script for the smmpanel benchmark (bench/run.py): urlencoded form POSTs
-- to /api/v2, one kind of request per run.
--
--   wrk ... -s bench/wrk/api.lua http://127.0.0.1:PORT/api/v2 -- MODE KEY LO HI SERVICE
--   ("--": an API key may start with "-")
--
-- MODE: hello | balance  the same static body (key + action=balance)
--       status           action=status, order = a random id in [LO, HI]
--       status100        action=status, orders = 100 random ids in [LO, HI]
--       add              action=add, a valid Default order for SERVICE
--       addkey           the same, each request with its own Idempotency-Key header: a
--                        run's keys share a prefix and count up (a client keying by its own ids)
--       addkeyrandom     the same with random keys (a client sending UUIDs)
--
-- A reply that is not HTTP 200 or whose body holds "error" is counted in
-- `bad` (the panel answers API errors with 200 + {"error": ...}). done()
-- prints one line "BENCHJSON {...}" that run.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

bad = 0 -- global: read from each thread in done()

function init(args)
  local mode, key = args[1], args[2]
  local lo, hi, service = tonumber(args[3] or "1"), tonumber(args[4] or "1"), args[5] or "1"
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  local prefix = "key=" .. key .. "&action="

  if mode == "hello" or mode == "balance" then
    wrk.body = prefix .. "balance" -- static: wrk builds the request once
  elseif mode == "status" then
    local head = prefix .. "status&order="
    request = function()
      return wrk.format(nil, nil, nil, head .. math.random(lo, hi))
    end
  elseif mode == "status100" then
    local head = prefix .. "status&orders="
    local ids = {}
    request = function()
      for i = 1, 100 do
        ids[i] = math.random(lo, hi)
      end
      return wrk.format(nil, nil, nil, head .. table.concat(ids, "%2C"))
    end
  elseif mode == "add" then
    local head = prefix .. "add&service=" .. service .. "&quantity=100&link=https%3A%2F%2Fexample.com%2Fpost%2F"
    request = function()
      return wrk.format(nil, nil, nil, head .. math.random(1, 1000000000))
    end
  elseif mode == "addkey" or mode == "addkeyrandom" then
    -- add, each request under its own Idempotency-Key (a retrying client's header)
    local head = prefix .. "add&service=" .. service .. "&quantity=100&link=https%3A%2F%2Fexample.com%2Fpost%2F"
    local run = string.format("%x-%x", os.time(), math.random(1, 1000000000))
    local n = 0
    local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
    request = function()
      n = n + 1
      if mode == "addkeyrandom" then -- 128 random bits, written as a UUID is
        headers["Idempotency-Key"] = string.format("%08x-%04x-%04x-%04x-%04x%08x", math.random(0, 0xffffffff),
          math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff), math.random(0, 0xffff),
          math.random(0, 0xffffffff))
      else
        headers["Idempotency-Key"] = run .. "-" .. n
      end
      -- the same links as a plain add's (random), so that only the key differs
      return wrk.format(nil, nil, headers, head .. math.random(1, 1000000000))
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"error"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local nbad = 0
  for _, thread in ipairs(threads) do
    nbad = nbad + (thread:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "bad_replies": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, nbad,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
