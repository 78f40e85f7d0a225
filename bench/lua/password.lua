-- The password grant for a pool of resource owners (BENCH_USERS, one username per line),
-- split between wrk's threads, with the password BENCH_PASSWORD. Many users log in at
-- once, as in production; one username hammered by every connection would measure the
-- failed-login throttle's in-flight reservations instead. BENCH_EXTRA (e.g. "&scope=x")
-- is appended to every body.
dofile(os.getenv("BENCH_LUA_DIR") .. "/pool.lua")

function init(args)
  users = thread_share(os.getenv("BENCH_USERS"))
  password = os.getenv("BENCH_PASSWORD")
  extra = os.getenv("BENCH_EXTRA") or ""
  position = 0
end

function request()
  position = position % #users + 1
  return wrk.format("POST", nil, form_headers, "grant_type=password&username=" .. users[position] .. "&password=" .. password .. extra)
end
