"""The home page in Chromium: its code words wrap as whole words at every width."""

import pytest

from tests.oauthgw.admin.test_browser import CHROMIUM, browser  # noqa: F401 (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install-browser.sh"),
]

# Each word of each code span, as the lines it is drawn on; a URL may break where it must.
WORDS_BROKEN_ACROSS_LINES = """
() => {
  const broken = [];
  for (const code of document.querySelectorAll("code")) {
    const text = code.firstChild;
    if (!text || text.nodeType !== Node.TEXT_NODE) continue;
    const pattern = /\\S+/g;
    let match;
    while ((match = pattern.exec(text.data)) !== null) {
      if (match[0].includes("://")) continue;
      const range = document.createRange();
      range.setStart(text, match.index);
      range.setEnd(text, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [320, 360, 412, 768, 1280])
def test_no_code_word_on_the_home_page_is_broken_mid_word(browser, live_server, width):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(f"{live_server.url}/")

        assert page.evaluate(WORDS_BROKEN_ACROSS_LINES) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        page.close()
