"""One-time form tokens: signed for one form, claimed once, and only with the work they guard."""

import time

import pytest
from django.db import transaction

from oauthgw.admin.form_tokens import (
    MAX_AGE,
    form_token_check,
    form_token_claim,
    form_token_issue,
    form_token_record,
    form_token_submission,
)

pytestmark = pytest.mark.django_db


def test_a_token_is_good_for_the_form_it_was_issued_for_only():
    token = form_token_issue(purpose="add-client")

    assert form_token_check(token, purpose="add-client")
    assert form_token_check(token, purpose="rotate-secret-1") is None
    assert form_token_check(token + "x", purpose="add-client") is None
    assert form_token_check(None, purpose="add-client") is None


def test_a_token_expires(monkeypatch):
    now = time.time()
    with monkeypatch.context() as yesterday:
        yesterday.setattr(time, "time", lambda: now - MAX_AGE - 1)
        token = form_token_issue(purpose="add-client")

    assert form_token_check(token, purpose="add-client") is None


def test_only_the_first_claim_succeeds_and_remembers_what_it_made():
    nonce = form_token_check(form_token_issue(purpose="add-client"), purpose="add-client")

    assert form_token_submission(nonce) is None
    assert form_token_claim(nonce) is True
    form_token_record(nonce, client_pk=7)

    assert form_token_claim(nonce) is False
    assert form_token_submission(nonce).client_pk == 7


def test_a_claim_rolled_back_with_its_work_leaves_the_token_unused():
    nonce = form_token_check(form_token_issue(purpose="add-client"), purpose="add-client")

    with pytest.raises(RuntimeError), transaction.atomic():
        form_token_claim(nonce)
        raise RuntimeError("the work failed")

    assert form_token_submission(nonce) is None
    assert form_token_claim(nonce) is True
