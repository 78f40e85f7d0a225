-- The refresh_token grant: every request spends a fresh refresh token from BENCH_TOKENS,
-- split between wrk's threads. A thread that runs out starts over, and the replays
-- are refused (counted as non-2xx): the pool is sized so that does not happen.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  tokens = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then
      if index % threads == thread_id then
        tokens[#tokens + 1] = line
      end
      index = index + 1
    end
  end
  position = 0
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = os.getenv("BENCH_AUTH"),
  }
end

function request()
  position = position % #tokens + 1
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. tokens[position])
end
