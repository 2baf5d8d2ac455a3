-- Sends each request with the next cookie value from the file in $BENCH_TOKENS, round
-- robin, as "$BENCH_COOKIE=<token>". Each wrk thread starts at its own offset.
local tokens, i = {}, 0
local name = os.getenv("BENCH_COOKIE")

function setup(thread)
  thread:set("offset", tonumber(os.getenv("BENCH_THREAD_OFFSET") or "0"))
end

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  i = (offset or 0) % #tokens
end

function request()
  i = i % #tokens + 1
  return wrk.format("GET", nil, { ["Cookie"] = name .. "=" .. tokens[i] })
end
