"""The README's "Sessions" walk-through, run as written against ``OAUTHGW_UPSTREAM_REVERIFY=always make run``.

As for "Try it" (``test_readme_try_it``): the commands come from README.md, in a
fresh clone, and each documented answer is compared with what the gateway says.
"""

import pytest

from tests.scripts.test_readme_try_it import run_readme_block, running_make_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reverifying_make_run(fresh_clone):
    with running_make_run(fresh_clone, OAUTHGW_UPSTREAM_REVERIFY="always") as run:
        yield run


def test_every_sessions_command_gives_its_documented_answer(reverifying_make_run, tmp_path):
    run_readme_block(reverifying_make_run, "Sessions", tmp_path)
