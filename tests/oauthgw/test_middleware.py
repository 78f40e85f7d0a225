"""Every HTML page carries the strict Content-Security-Policy; none needs an inline script or style.

tests/oauthgw/admin/test_browser.py loads the pages in chromium and checks it reports no violation.
"""

import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from oauthgw.middleware import POLICY, ContentSecurityPolicyMiddleware

INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_html_pages_carry_the_policy_and_no_inline_code(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == POLICY
    assert INLINE_CODE.findall(response.content.decode()) == []


def test_the_admin_pages_of_a_logged_in_operator_carry_the_policy(admin_client):
    for path in ["/admin/", "/admin/oauthgw/application/", "/admin/oauthgw/application/add/"]:
        response = admin_client.get(path)

        assert response["Content-Security-Policy"] == POLICY, path


def test_the_api_docs_start_up_script_is_a_file_of_its_own(client):
    page = client.get("/api/docs/").content.decode()
    [script_url] = re.findall(r'<script src="(/api/docs/\?script=[^"]*)"', page)

    script = client.get(script_url)

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize("path", ["/oauth2/token", "/.well-known/oauth-authorization-server"])
def test_json_responses_go_without_it(client, path):
    assert "Content-Security-Policy" not in client.get(path)


def test_a_page_with_its_own_policy_keeps_it():
    own = "default-src 'none'"
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse(headers={"Content-Security-Policy": own}))

    assert middleware(RequestFactory().get("/"))["Content-Security-Policy"] == own
