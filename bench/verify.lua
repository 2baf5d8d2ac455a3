-- POSTs verify-otp for the "mobile code" lines of $BENCH_CODES. With BENCH_WRONG=1 it
-- sends a wrong code (the right one plus one), round robin; otherwise it sends each right
-- code once and stops the thread when they are used up (wrk's rate then covers the time
-- the thread ran). Threads split the lines between them.
local pairs_, i, last = {}, 0, 0
local threads, nthreads = {}, 0
local wrong = os.getenv("BENCH_WRONG") == "1"

function setup(thread)
  nthreads = nthreads + 1
  thread:set("id", nthreads - 1)
  table.insert(threads, thread)
  for _, t in ipairs(threads) do t:set("n", nthreads) end
end

function init(args)
  local all = {}
  for line in io.lines(os.getenv("BENCH_CODES")) do
    local m, c = line:match("^(%S+) (%d+)$")
    if m then all[#all + 1] = { m, c } end
  end
  local k, me = n or 1, id or 0
  for j = 1, #all do
    if (j - 1) % k == me then pairs_[#pairs_ + 1] = all[j] end
  end
end

local function wrongCode(c)
  local v = (tonumber(c) + 1) % (10 ^ #c)
  return string.format("%0" .. #c .. "d", v)
end

function request()
  if wrong then
    i = i % #pairs_ + 1
  else
    i = i + 1
    if i > #pairs_ then
      wrk.thread:stop()
      i = #pairs_
    end
  end
  local p = pairs_[i]
  local code = wrong and wrongCode(p[2]) or p[2]
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json",
    ["Template-Key"] = os.getenv("BENCH_KEY") },
    string.format('{"mobile":"%s","otp":"%s"}', p[1], code))
end
