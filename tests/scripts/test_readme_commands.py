"""Every manage.py command the documentation tells an operator to run works as written.

A bare ``python manage.py …`` fails on a machine where the packages live only in
``.venv`` (what ``make run`` and ``scripts/manage.sh`` set up): the documents say
``scripts/manage.sh COMMAND`` or ``.venv/bin/python manage.py COMMAND``, and the
command they name exists.
"""

import re
from pathlib import Path

import pytest
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_COMMAND = re.compile(r"(\S*)\s*manage(?:\.py|\.sh)\s+([a-z_]+)")


def invocations() -> list[tuple[str, str, str]]:
    found = []
    for document in DOCUMENTS:
        for runner, command in _COMMAND.findall(document.read_text(encoding="utf-8")):
            found.append((document.name, runner.strip("`("), command))
    return found


@pytest.mark.parametrize(("document", "runner", "command"), invocations())
def test_each_documented_command_runs_the_way_it_is_written(document, runner, command):
    assert runner in {"scripts/", ".venv/bin/python"}, f"{document}: '{runner} manage… {command}' needs the venv"
    assert command in get_commands(), f"{document}: no manage.py command {command!r}"
