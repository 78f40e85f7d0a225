import subprocess

import pytest

from tests.support.processes import ROOT


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory):
    """A clone of the commit being tested plus the working tree's changes to tracked files.

    Shared by the README tests, so its ``.venv`` is installed once.
    """
    clone = tmp_path_factory.mktemp("readme") / "oauthgw"
    # --shared reads the original's objects, including the stash commit below.
    subprocess.run(["git", "clone", "--quiet", "--shared", str(ROOT), str(clone)], check=True)
    changes = subprocess.run(
        ["git", "stash", "create"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    if changes:
        subprocess.run(["git", "checkout", "--quiet", changes], cwd=clone, check=True)
    return clone
