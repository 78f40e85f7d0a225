"""``/``: a page for a person who opens the gateway in a browser; JSON 404s stay elsewhere."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_home_page_says_what_this_is_and_where_to_go(client):
    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "OAuth 2.0 authorization gateway" in page
    assert "http://testserver/oauth2/token" in page
    for path in ("/admin/", "/.well-known/oauth-authorization-server", "/api/docs/", "/api/schema/", "/healthz"):
        assert f'href="{path}"' in page


def test_every_link_on_the_home_page_answers(client):
    links = re.findall(r'href="(/[^"]*)"', client.get("/").content.decode())

    answers = {link: client.get(link).status_code for link in links}

    assert len(answers) == 7  # the stylesheet, the icon and five pages
    assert {link: status for link, status in answers.items() if status >= 400} == {}


@pytest.mark.parametrize("page", ["/", "/admin/login/"])
def test_pages_name_the_icon_browsers_ask_for_at_the_root_which_is_served(client, page):
    assert '<link rel="icon" href="/favicon.ico">' in client.get(page).content.decode()

    icon = client.get("/favicon.ico")

    assert icon.status_code == 200
    assert icon["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_the_home_page_loads_no_script_and_nothing_from_elsewhere(client):
    page = client.get("/").content.decode()

    assert "<script" not in page
    assert "style=" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_other_unknown_paths_still_answer_json_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_home_page_only_reads(client):
    response = client.post("/")

    assert response.status_code == 405
