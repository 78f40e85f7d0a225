"""The README's "Try it" section, run as written against ``make run`` in a fresh clone.

The commands come from README.md itself, so the test fails when the README and the
gateway drift apart. The clone is of the commit being tested plus the working
tree's changes to tracked files (``git stash create``), so a README edit is checked
before it is committed; untracked files are not in it. The clone installs its own
``.venv`` with scripts/bootstrap.sh, as a reader's would (about a minute with pip's
cache). Each command's documented answer is the ``#`` lines under it: a JSON
object, compared key by key with ``…`` matching any value, or a line the output must
contain (a status line, a header).
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
STEP_END = "@@@ end of a README step @@@"
ANY_VALUE = "…"
START_SECONDS = 600  # a first start installs .venv
STOP_SECONDS = 30


@dataclass
class Step:
    """One paragraph of the block: what it says, its commands and their documented answer."""

    commands: list[str]
    answer: list[str] = field(default_factory=list)


def try_it_steps(readme: str, section_title: str = "Try it") -> list[Step]:
    """The steps of the first bash block of the README section ``section_title``."""
    section = readme.split(f"\n## {section_title}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    steps = []
    for paragraph in block.strip().split("\n\n"):
        step = Step(commands=[])
        for line in paragraph.splitlines():
            if not line.startswith("#"):
                step.commands.append(line)
            elif step.commands:  # a comment under a command is its answer; above it, a title
                step.answer.append(line.removeprefix("#").strip())
        steps.append(step)
    return steps


def assert_answer(step: Step, output: str) -> None:
    lines = [line.rstrip("\r") for line in output.splitlines()]
    for expected in step.answer:
        if expected.startswith("{"):
            documented = json.loads(expected)
            [received] = [json.loads(line) for line in lines if line.startswith("{")]
            assert set(received) == set(documented), (step.commands, received)
            for key, value in documented.items():
                if value == ANY_VALUE:
                    assert received[key], (step.commands, key)
                else:
                    assert received[key] == value, (step.commands, key, received[key])
        else:
            assert expected.lower() in (line.lower() for line in lines), (step.commands, expected, output)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _session_members(session_id: int) -> list[int]:
    """Processes still in the session make run was started in (field 6 of /proc/PID/stat)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@dataclass
class MakeRun:
    process: subprocess.Popen
    output: list[str]
    gateway_port: int
    dev_auth_port: int
    env: dict

    def printed(self, pattern: str) -> re.Match | None:
        return re.search(pattern, "".join(self.output), re.M)


@contextmanager
def running_make_run(clone: Path, **settings: str) -> Iterator[MakeRun]:
    """``make run`` in ``clone`` on free ports, with the embedded defaults plus ``settings``."""
    # The embedded defaults the README describes, not the test run's engines.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OAUTHGW_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"))
    }
    gateway_port, dev_auth_port = free_port(), free_port()
    env.update(GATEWAY_PORT=str(gateway_port), DEV_AUTH_PORT=str(dev_auth_port), **settings)
    process = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
    run = MakeRun(process, output, gateway_port, dev_auth_port, env)
    deadline = time.monotonic() + START_SECONDS
    while not (run.printed(r"^  export GATEWAY=") and _port_open(gateway_port)):
        assert process.poll() is None, "make run exited:\n" + "".join(output)[-3000:]
        assert time.monotonic() < deadline, "make run did not start:\n" + "".join(output)[-3000:]
        time.sleep(0.5)
    try:
        yield run
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def make_run(fresh_clone):
    with running_make_run(fresh_clone) as run:
        yield run


def run_readme_block(make_run: MakeRun, section_title: str, directory: Path) -> None:
    """Run the section's block in one shell, as a reader would, and compare every documented answer."""
    steps = try_it_steps(README.read_text(encoding="utf-8"), section_title)
    export = make_run.printed(r"^  (export GATEWAY=.*)$").group(1)
    # One shell, as a reader's: what a step defines, the next may use. A marker after each step.
    lines = [export]
    for step in steps:
        lines += [*step.commands, f"echo; echo '{STEP_END}'"]

    finished = subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        cwd=directory,
        env={"PATH": os.environ["PATH"], "HOME": str(directory)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    outputs = finished.stdout.split(STEP_END + "\n")[: len(steps)]
    assert len(steps) >= 5
    assert len(outputs) == len(steps)
    for step, output in zip(steps, outputs, strict=True):
        assert_answer(step, output)


def test_every_try_it_command_gives_its_documented_answer(make_run, tmp_path):
    run_readme_block(make_run, "Try it", tmp_path)


def test_make_run_prints_the_same_client_on_every_start(make_run, fresh_clone):
    key = make_run.printed(r"^  client key: +(\S+)$").group(1)
    secret = make_run.printed(r"^  client secret: +(\S+)$").group(1)

    remembered = json.loads((fresh_clone / "var" / "demo-client.json").read_text())

    assert remembered == {"client_id": key, "client_secret": secret}


def test_make_client_registers_a_client_whose_secret_works(make_run, fresh_clone):
    assert "make client NAME=" in README.read_text(encoding="utf-8")

    made = subprocess.run(
        ["make", "--no-print-directory", "client", "NAME=readme-machine", "GRANTS=client_credentials"],
        cwd=fresh_clone,
        env=make_run.env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert made.returncode == 0, made.stderr
    client_id = re.search(r"^client_id: +(\S+)$", made.stdout, re.M).group(1)
    secret = re.search(r"^client_secret: +(\S+)$", made.stdout, re.M).group(1)
    token = requests.post(
        f"http://127.0.0.1:{make_run.gateway_port}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=30,
    )
    assert token.json()["token_type"] == "Bearer"


def _sign_in_as_a_person(url: str) -> str:
    """What a person does in the browser at step 2: the login form, then the code on the page it ends on."""
    browser = requests.Session()
    page = browser.get(url, timeout=30)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    login = f"{url.split('/oauth2/')[0]}/oauth2/login"
    landed = browser.post(login, data={**fields, "username": "abc123", "password": "xyz456"}, timeout=30)
    assert "/callback?" in landed.url, landed.text
    return re.search(r"<code id='code'>([^<]+)</code>", landed.text).group(1)


def test_every_sign_in_with_a_browser_command_gives_its_documented_answer(make_run, tmp_path):
    steps = try_it_steps(README.read_text(encoding="utf-8"), "Sign in with a browser")
    export = make_run.printed(r"^  (export GATEWAY=.*)$").group(1)
    lines = [export]
    for step in steps:
        lines += [*step.commands, f"echo; echo '{STEP_END}'"]
    shell = subprocess.Popen(
        ["bash", "-c", "\n".join(lines)],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(120, shell.kill)
    timer.start()
    try:
        printed = []
        while not any("/oauth2/authorize?" in line for line in printed):
            line = shell.stdout.readline()
            assert line, shell.stderr.read()
            printed.append(line)
        # The reader pastes the code the browser's page showed. (Read on through the same
        # buffered stream: communicate() would skip what readline() has buffered.)
        shell.stdin.write(_sign_in_as_a_person(printed[-1].strip()) + "\n")
        shell.stdin.close()
        rest = shell.stdout.read()
        errors = shell.stderr.read()
        shell.wait()
    finally:
        timer.cancel()

    assert shell.returncode == 0, errors
    outputs = ("".join(printed) + rest).split(STEP_END + "\n")[: len(steps)]
    assert len(outputs) == len(steps) >= 6
    for step, output in zip(steps, outputs, strict=True):
        assert_answer(step, output)


def test_sigterm_to_make_stops_both_servers(make_run):
    # Last in this module: the servers are gone afterwards.
    make_run.process.send_signal(signal.SIGTERM)  # `kill <pid of make>`, as the README says
    make_run.process.wait(STOP_SECONDS)

    deadline = time.monotonic() + STOP_SECONDS
    while _session_members(make_run.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_members(make_run.process.pid) == []
    assert not _port_open(make_run.gateway_port)
    assert not _port_open(make_run.dev_auth_port)
