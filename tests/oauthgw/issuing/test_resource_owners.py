"""Shadow users: one per (authorization server, subject), found with one query on every login."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oauthgw.issuing.resource_owners import LAST_SEEN_PRECISION, resource_owner_upsert, shadow_username
from oauthgw.models import ResourceOwner

pytestmark = pytest.mark.django_db


def upsert(subject: str = "alice", server: str = "default"):
    return resource_owner_upsert(authorization_server=server, subject=subject)


def test_first_sight_creates_a_user_that_cannot_log_in():
    user = upsert()

    owner = ResourceOwner.objects.select_related("user").get()
    assert owner.user == user
    assert (owner.authorization_server, owner.subject) == ("default", "alice")
    assert user.username == shadow_username(authorization_server="default", subject="alice")
    assert not user.has_usable_password()


def test_a_known_owner_is_found_with_one_query(django_assert_num_queries):
    created = upsert()

    with django_assert_num_queries(1):
        found = upsert()

    assert found.pk == created.pk


def test_the_found_user_reads_its_other_fields_from_the_database():
    created = upsert()

    found = upsert()

    assert found.username == created.username
    assert found.is_active


def test_the_same_subject_at_another_server_is_another_person():
    assert upsert(server="primary").pk != upsert(server="secondary").pk


def test_last_seen_is_written_once_it_is_older_than_the_precision(django_assert_num_queries):
    upsert()
    long_ago = timezone.now() - LAST_SEEN_PRECISION - timedelta(seconds=5)
    ResourceOwner.objects.update(last_seen=long_ago)

    with django_assert_num_queries(2):
        upsert()

    assert ResourceOwner.objects.get().last_seen > long_ago + LAST_SEEN_PRECISION


def test_last_seen_is_not_written_within_the_precision():
    upsert()
    recently = timezone.now() - LAST_SEEN_PRECISION / 2
    ResourceOwner.objects.update(last_seen=recently)

    upsert()

    assert ResourceOwner.objects.get().last_seen == recently
