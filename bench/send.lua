-- POSTs send-otp for a new mobile on every request: +4474 and 8 digits, counting up from
-- $BENCH_MOBILE_BASE (each wrk thread takes its own block of a million).
local n = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("block", counter - 1)
end

function init(args)
  n = tonumber(os.getenv("BENCH_MOBILE_BASE")) + (block or 0) * 1000000
end

function request()
  n = n + 1
  local body = string.format('{"mobile":"+4474%08d"}', n % 100000000)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json",
    ["Template-Key"] = os.getenv("BENCH_KEY") }, body)
end
