"""Admin login: staff only, and password guessing is locked out (django-axes)."""

import pytest

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-staff-password"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, password: str, address: str = "192.0.2.1"):
    return client.post(LOGIN, {"username": "operator", "password": password}, REMOTE_ADDR=address)


def test_staff_log_in_with_the_right_password(client, staff):
    assert login(client, PASSWORD).status_code == 302


def test_after_five_failures_even_the_right_password_is_locked_out(client, staff):
    statuses = [login(client, f"wrong-{attempt}").status_code for attempt in range(5)]

    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    assert login(client, PASSWORD).status_code == 429


def test_the_lockout_is_per_address(client, staff):
    for attempt in range(5):
        login(client, f"wrong-{attempt}")

    assert login(client, PASSWORD, address="198.51.100.9").status_code == 302


def test_a_non_staff_user_cannot_log_in(client, django_user_model):
    django_user_model.objects.create_user("customer", password=PASSWORD)

    response = client.post(LOGIN, {"username": "customer", "password": PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
