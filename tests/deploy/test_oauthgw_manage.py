"""deploy/oauthgw-manage runs manage.py as the service would: its user, its environment file, nothing else.

Its own part is the shell around manage.py, so these tests give it a stand-in
``manage.py`` that reports who ran it, where and with what; the real commands run
through it in tests/deploy/test_systemd.py. The user switch needs root and a user
that can read the stand-in: ``nobody`` and a world-readable directory outside the
test's private one.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.installation import MANAGE

REPORTER = """\
import getpass, json, os, sys
print(json.dumps({"user": getpass.getuser(), "cwd": os.getcwd(), "umask": os.umask(0), "argv": sys.argv[1:],
                  "environ": dict(os.environ)}))
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to the service's user needs root")


@pytest.fixture
def stand_in_home():
    home = Path(tempfile.mkdtemp(prefix="oauthgw-manage-"))
    try:
        home.chmod(0o755)
        (home / ".venv" / "bin").mkdir(parents=True)
        (home / ".venv" / "bin" / "python").symlink_to(shutil.which("python3", path="/usr/bin:/bin"))
        (home / "manage.py").write_text(REPORTER)
        env_file = home / "oauthgw.env"
        env_file.write_text("# settings\nDATABASE_URL=sqlite:////srv/oauthgw/var/db.sqlite3\nQUOTED='two words'\n")
        env_file.chmod(0o644)
        yield home
    finally:
        shutil.rmtree(home)


def run(home: Path, user: str, *args: str, caller_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "SERVICE_HOME": str(home),
        "SERVICE_ENV_FILE": str(home / "oauthgw.env"),
        "SERVICE_USER": user,
        **(caller_env or {}),
    }
    return subprocess.run([str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=60)


@needs_root
def test_root_runs_the_command_as_the_service_user_with_only_the_environment_file_and_a_private_umask(stand_in_home):
    result = run(stand_in_home, "nobody", "migrate", "--plan", "two words", caller_env={"DATABASE_URL": "stray"})

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["user"] == "nobody"
    assert report["cwd"] == str(stand_in_home)
    assert report["umask"] == 0o077
    assert report["argv"] == ["migrate", "--plan", "two words"]
    environ = report["environ"]
    assert environ["DATABASE_URL"] == "sqlite:////srv/oauthgw/var/db.sqlite3"  # the file's, not the caller's
    assert environ["QUOTED"] == "two words"
    assert "SERVICE_HOME" not in environ
    assert environ["PATH"].startswith("/usr/local/sbin:")


@needs_root
def test_another_user_is_told_to_use_sudo(stand_in_home):
    result = subprocess.run(
        ["/usr/sbin/runuser", "-u", "nobody", "--", str(MANAGE), "check"],
        env={"PATH": "/usr/bin:/bin", "SERVICE_HOME": str(stand_in_home), "SERVICE_USER": "root"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "run it as root (sudo) or as root" in result.stderr
