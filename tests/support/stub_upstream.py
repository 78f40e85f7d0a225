"""A counting authorization server whose answer depends on the username: the attacker's toolbox.

``POST /token`` with the password grant. By the username's first word:

- ``fault-…``: 500, the upstream choking on what it was sent;
- ``slow-…``: silence for ``slow_seconds``, then 403 (a wrong password answered slowly);
- ``laggy-…``: 403 after half a second;
- a username in ``users`` with its password: 200 with a token and, if ``subjects``
  names one, a ``sub``. Usernames compare exactly, except those in
  ``ignore_case`` (as many directories compare them);
- anything else: 403, as Glewlwyd answers a wrong password.

A password grant without a password (the admin's connection test) gets 401
``invalid_grant``; any other grant type (the gateway breaker's probe) 400
``unsupported_grant_type``, at once, as a token endpoint refuses a grant it does
not know before it looks at any user. With ``tarpit`` set, every refused password
grant (a wrong password, an unknown user, no password) is answered only after
``slow_seconds``, and only good credentials at once. With ``down`` set,
everything gets 500. Every password grant is counted by username, every other
request by grant type.
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class _Server(ThreadingHTTPServer):
    # The default listen queue of 5 overflows when a gateway sends ten checks at once:
    # the eleventh connection waited for a SYN retry (1 s), past the upstream timeout.
    request_queue_size = 128


class StubUpstream:
    def __init__(
        self,
        users: dict[str, str],
        *,
        ignore_case: set[str] = frozenset(),
        subjects: dict[str, str] | None = None,
        slow_seconds: float = 3.0,
        tarpit: bool = False,
    ):
        self.users = dict(users)
        self.ignore_case = {name.casefold(): name for name in ignore_case}
        self.subjects = subjects or {}
        self.slow_seconds = slow_seconds
        self.tarpit = tarpit
        self.down = False
        self.requests: Counter[str] = Counter()
        self.grants: Counter[str] = Counter()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = stub.answer(form)
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def answer(self, form: dict) -> tuple[int, dict | None]:
        grant_type, username, password = form.get("grant_type", ""), form.get("username", ""), form.get("password")
        with self._lock:
            if grant_type == "password":
                self.requests[username] += 1
            else:
                self.grants[grant_type] += 1
        if self.down:
            return 500, None
        if grant_type != "password":
            return 400, {"error": "unsupported_grant_type"}
        if username.startswith("fault-"):
            return 500, None
        name = self.ignore_case.get(username.strip().casefold(), username)
        if password is not None and name in self.users and self.users[name] == password:
            body = {"access_token": f"upstream-{name}", "token_type": "bearer", "expires_in": 3600}
            if name in self.subjects:
                body["sub"] = self.subjects[name]
            return 200, body
        if self.tarpit or username.startswith("slow-"):
            time.sleep(self.slow_seconds)
        elif username.startswith("laggy-"):
            time.sleep(0.5)
        if password is None:
            return 401, {"error": "invalid_grant"}
        return 403, None

    def grant_count(self, grant_type: str) -> int:
        with self._lock:
            return self.grants[grant_type]

    def count(self, username: str) -> int:
        with self._lock:
            return self.requests[username]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
