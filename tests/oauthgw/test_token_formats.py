"""What tells the token formats apart, and how audiences are written (oauthgw.token_formats)."""

import pytest

from oauthgw.token_formats import audience_values


@pytest.mark.parametrize(
    "typed",
    [
        "https://orders.example https://stock.example",
        "https://orders.example,https://stock.example",
        "https://orders.example, https://stock.example",
        " https://orders.example ,\n https://stock.example, ",
        "https://orders.example https://stock.example https://orders.example",
    ],
)
def test_audiences_may_be_separated_by_spaces_commas_or_both(typed):
    assert audience_values(typed) == ["https://orders.example", "https://stock.example"]


@pytest.mark.parametrize("typed", ["", "  ", ",", " , , "])
def test_no_audience_is_an_empty_list(typed):
    assert audience_values(typed) == []
