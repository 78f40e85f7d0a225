-- The refresh_token grant: every request spends a fresh refresh token from BENCH_TOKENS,
-- split between wrk's threads. A thread that runs out starts over, and the replays
-- are refused (counted as non-2xx): the pool is sized so that does not happen.
dofile(os.getenv("BENCH_LUA_DIR") .. "/pool.lua")

function init(args)
  tokens = thread_share(os.getenv("BENCH_TOKENS"))
  position = 0
end

function request()
  position = position % #tokens + 1
  return wrk.format("POST", nil, form_headers, "grant_type=refresh_token&refresh_token=" .. tokens[position])
end
