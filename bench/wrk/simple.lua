-- One request, repeated on every connection (bench/loadgen.py --loadgen wrk).
-- The request comes from the environment, set by loadgen.py after its setup:
--   BENCH_METHOD, BENCH_PATH, BENCH_BODY (may be empty), BENCH_HEADERS (lines "Name: value"),
--   BENCH_EXPECT (a Lua pattern every 200 body must match; empty for none).
-- done() prints one JSON line with the counts and latency percentiles in milliseconds.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then wrk.body = body end
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
local expect = os.getenv("BENCH_EXPECT") or ""

threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Globals, so done() can read them from each thread (thread:get).
bad = 0
bad_sample = ""

function response(status, headers, body)
  if status ~= 200 or (expect ~= "" and not (body and body:find(expect))) then
    bad = bad + 1
    if bad_sample == "" then bad_sample = tostring(status) .. " " .. (body or ""):sub(1, 120) end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local threads_bad, sample = 0, ""
  for _, t in ipairs(threads) do
    threads_bad = threads_bad + (t:get("bad") or 0)
    local s = t:get("bad_sample")
    if s and s ~= "" and sample == "" then sample = s end
  end
  local socket_errors = e.connect + e.read + e.write + e.timeout
  sample = sample:gsub('[^%w%s%.:_/-]', '?'):gsub('%s', ' ')
  io.write(string.format(
    '{"wrk": {"requests": %d, "duration_us": %d, "bad": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d, "sample": "%s"}}\n',
    summary.requests, summary.duration, threads_bad, socket_errors,
    latency:percentile(50), latency:percentile(99), sample))
end
