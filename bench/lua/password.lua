-- The password grant for a pool of resource owners (BENCH_USERS, one username per line),
-- split between wrk's threads, with the password BENCH_PASSWORD. Many users log in at
-- once, as in production; one username hammered by every connection would measure the
-- failed-login throttle's in-flight reservations instead.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  users = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_USERS")) do
    if line ~= "" then
      if index % threads == thread_id then
        users[#users + 1] = line
      end
      index = index + 1
    end
  end
  password = os.getenv("BENCH_PASSWORD")
  position = 0
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = os.getenv("BENCH_AUTH"),
  }
end

function request()
  position = position % #users + 1
  return wrk.format("POST", nil, headers, "grant_type=password&username=" .. users[position] .. "&password=" .. password)
end
