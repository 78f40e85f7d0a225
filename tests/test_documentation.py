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


def _dpop_snippets() -> dict:
    """The README's two DPoP Python blocks (a client's proof, an API's check), run in one namespace."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Sender-constrained tokens (DPoP)\n", 1)[1].split("\n## ", 1)[0]
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (the README's own code)
    return namespace


@pytest.mark.django_db
def test_the_readmes_dpop_proofs_get_and_use_a_bound_token_and_its_api_check_holds(client, make_client):
    from urllib.parse import urlencode

    import jwt

    from tests.oauthgw.conftest import FORM, basic_authorization

    readme = _dpop_snippets()
    app = make_client(token_format="jwt")
    token_url, hello_url = "http://testserver/oauth2/token", "http://testserver/helloworld/"

    tokens = client.post(
        "/oauth2/token",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        HTTP_DPOP=readme["dpop_proof"]("POST", token_url),
    ).json()
    token = tokens["access_token"]
    proof = readme["dpop_proof"]("GET", hello_url, access_token=token)
    called = client.get("/helloworld/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)

    assert tokens["token_type"] == "DPoP"
    assert called.status_code == 200, called.content
    claims = jwt.decode(token, options={"verify_signature": False})
    seen: set = set()
    headers = {"Authorization": f"DPoP {token}", "DPoP": readme["dpop_proof"]("GET", hello_url, access_token=token)}
    readme["dpop_check"](headers, "GET", hello_url, token, claims, seen)
    with pytest.raises(ValueError, match="used before"):
        readme["dpop_check"](headers, "GET", hello_url, token, claims, seen)
    with pytest.raises(ValueError, match="another key"):
        readme["dpop_check"](headers, "GET", hello_url, token, {"cnf": {"jkt": "A" * 43}}, seen)
    with pytest.raises(ValueError, match="another request"):
        readme["dpop_check"](headers, "POST", hello_url, token, claims, set())
    with pytest.raises(ValueError, match="bearer token"):
        readme["dpop_check"](headers, "GET", hello_url, token, {}, set())
