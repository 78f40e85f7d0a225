"""Earlier releases of this code, taken from git history (deploy/releases.txt names them)."""

import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT

RELEASES = ROOT / "deploy" / "releases.txt"


@dataclass(frozen=True)
class Release:
    commit: str
    root: Path
    python: str


def previous_release_commit() -> str:
    lines = [line.split()[0] for line in RELEASES.read_text(encoding="utf-8").splitlines() if line[:1].isalnum()]
    return lines[-1]


def release_checkout(commit: str, directory: Path) -> Release:
    """The release's files in ``directory`` (``git archive``), with a Python that runs them.

    The python of this checkout's virtualenv when the release pinned the same packages;
    otherwise the release's own virtualenv, made by its own ``scripts/bootstrap.sh`` as an
    operator's server had it (that installs from the package index).
    """
    found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True)
    assert found.returncode == 0, (
        f"the release {commit} (deploy/releases.txt) is not in this clone's history: "
        "fetch it (git fetch --unshallow) to test upgrades from it"
    )
    archive = directory.with_suffix(".tar")
    subprocess.run(["git", "archive", "--format=tar", f"--output={archive}", commit], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(directory, filter="data")
    archive.unlink()
    if (directory / "requirements.txt").read_bytes() == (ROOT / "requirements.txt").read_bytes():
        return Release(commit=commit, root=directory, python=sys.executable)
    shutil.rmtree(directory / ".venv", ignore_errors=True)
    subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=directory, check=True, timeout=1200)
    return Release(commit=commit, root=directory, python=str(directory / ".venv" / "bin" / "python"))
