"""Commands in the documentation work when copied verbatim into a fresh clone.

The project's packages live in ``.venv`` (``scripts/manage.sh`` creates it): a
command that runs the project's Python or its servers names ``.venv/bin/...`` or
``scripts/manage.sh``, never a bare ``python``, ``gunicorn`` or ``granian``, which
would be the system's or none. (``python3`` for plain JSON handling is the system's
on purpose.)
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Fenced blocks and `inline code`: where a reader copies commands from.
_CODE = re.compile(r"```[a-z]*\n(.*?)```|`([^`\n]+)`", re.S)
# A bare program name (not a path such as .venv/bin/python), or manage.py run as a program.
_BARE = re.compile(r"(?<![/\w.-])(?:python|gunicorn|granian|pip)(?=\s)|^\s*(?:\./)?manage\.py\s+\w", re.M)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_documented_command_runs_a_bare_python_or_server(document):
    text = document.read_text(encoding="utf-8")
    bare = []
    for match in _CODE.finditer(text):
        code = match.group(1) or match.group(2)
        bare += [line.strip() for line in code.splitlines() if _BARE.search(line)]

    assert bare == []
