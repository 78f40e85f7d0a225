"""A staff member in the admin over real HTTP: log in, submit a change form as a browser would."""

from html.parser import HTMLParser

import requests


class _FormFields(HTMLParser):
    """The fields of every form, with the values a browser would submit."""

    def __init__(self):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._fields = []
            return
        if self._fields is None:
            return
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attributes:
                    self._fields.append((name, attributes.get("value", "on")))
            elif kind not in {"submit", "button", "file", "password"}:
                self._fields.append((name, attributes.get("value", "") or ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            self._fields.append((self._select, attributes.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = name
            self._fields.append((name, ""))

    def handle_data(self, data):
        if self._textarea and self._fields and self._fields[-1][0] == self._textarea:
            name, value = self._fields[-1]
            self._fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._fields is not None:
            self.forms.append(self._fields)
            self._fields = None


def form_fields(html: str) -> list[tuple[str, str]]:
    """The fields of the page's main form: the largest one (the admin also has a logout form)."""
    parser = _FormFields()
    parser.feed(html)
    return max(parser.forms, key=len, default=[])


class AdminSession:
    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url
        self.http = requests.Session()
        login_url = f"{base_url}/admin/login/"
        page = self.http.get(login_url, timeout=30)
        fields = dict(form_fields(page.text))
        fields.update({"username": username, "password": password, "next": "/admin/"})
        answer = self.http.post(login_url, data=fields, headers={"Referer": login_url}, timeout=30)
        assert answer.url.rstrip("/").endswith("/admin"), f"login failed: {answer.status_code}"

    def submit_form(self, path: str, changes: dict[str, str | None], extra: dict[str, str] | None = None):
        """Open the form at ``path``, apply ``changes`` (None removes a field, e.g. an unticked box), submit."""
        url = f"{self.base_url}{path}"
        page = self.http.get(url, timeout=30)
        assert page.status_code == 200, page.status_code
        fields = [(name, value) for name, value in form_fields(page.text) if name not in changes]
        fields += [(name, value) for name, value in changes.items() if value is not None]
        fields += list((extra or {}).items())
        return self.http.post(url, data=fields, headers={"Referer": url}, timeout=30)

    def run_action(self, changelist_path: str, action: str, pks: list) -> requests.Response:
        url = f"{self.base_url}{changelist_path}"
        page = self.http.get(url, timeout=30)
        token = dict(form_fields(page.text))["csrfmiddlewaretoken"]
        data = [("csrfmiddlewaretoken", token), ("action", action), ("index", "0")]
        data += [("_selected_action", str(pk)) for pk in pks]
        return self.http.post(url, data=data, headers={"Referer": url}, timeout=30)
