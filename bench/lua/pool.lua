-- Shared by the scenarios that walk a pool of values (usernames, refresh tokens): each of
-- wrk's threads (BENCH_THREADS) takes every n-th line of the file, so no two threads send
-- the same value.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

-- This thread's share of the non-empty lines of the file at `path`.
function thread_share(path)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  local share = {}
  local index = 0
  for line in io.lines(path) do
    if line ~= "" then
      if index % threads == thread_id then
        share[#share + 1] = line
      end
      index = index + 1
    end
  end
  return share
end

form_headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Authorization"] = os.getenv("BENCH_AUTH"),
}
