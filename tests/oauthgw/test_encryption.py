"""Secrets at rest: Fernet under keys from OAUTHGW_ENCRYPTION_KEYS, newest first, or a development key."""

import pytest
from cryptography.fernet import Fernet

from oauthgw import encryption
from oauthgw.encryption import decrypt, encrypt, reencrypt
from oauthgw.exceptions import DecryptionError, EncryptionKeyError

SECRET = "upstream-client-secret-ünïcode"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    def use(*keys: str) -> None:
        settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": ",".join(keys)}

    return use


def test_a_value_round_trips_and_its_ciphertext_hides_it(use_keys):
    use_keys(OLD_KEY)

    token = encrypt(SECRET)

    assert SECRET not in token
    assert decrypt(token) == SECRET


def test_the_same_value_encrypts_differently_each_time(use_keys):
    use_keys(OLD_KEY)

    assert encrypt(SECRET) != encrypt(SECRET)


def test_the_newest_key_encrypts_and_every_listed_key_decrypts(use_keys):
    use_keys(OLD_KEY)
    old_token = encrypt(SECRET)
    use_keys(NEW_KEY, OLD_KEY)

    new_token = encrypt(SECRET)

    assert decrypt(old_token) == SECRET
    assert Fernet(NEW_KEY.encode()).decrypt(new_token.encode()).decode() == SECRET


def test_a_value_whose_key_was_removed_is_a_decryption_error_that_hides_it(use_keys):
    use_keys(OLD_KEY)
    token = encrypt(SECRET)
    use_keys(NEW_KEY)

    with pytest.raises(DecryptionError) as caught:
        decrypt(token)

    assert SECRET not in str(caught.value)


def test_an_altered_ciphertext_is_refused_not_decrypted_to_garbage(use_keys):
    use_keys(OLD_KEY)
    token = encrypt(SECRET)
    altered = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]

    with pytest.raises(DecryptionError):
        decrypt(altered)


def test_without_configured_keys_a_key_derived_from_secret_key_is_used(use_keys, settings):
    use_keys()
    token = encrypt(SECRET)

    assert decrypt(token) == SECRET
    assert Fernet(encryption.development_key(settings.SECRET_KEY)).decrypt(token.encode()).decode() == SECRET
    settings.SECRET_KEY = "another-development-secret-key"
    with pytest.raises(DecryptionError):
        decrypt(token)


def test_without_configured_keys_secret_key_fallbacks_still_decrypt(use_keys, settings):
    use_keys()
    token = encrypt(SECRET)

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-next-development-secret-key"

    assert decrypt(token) == SECRET


@pytest.mark.parametrize("bad", ["not-a-key", Fernet.generate_key().decode()[:-4], "x" * 44])
def test_a_malformed_key_is_a_configuration_error_that_does_not_echo_it(use_keys, bad):
    use_keys(NEW_KEY, bad)

    with pytest.raises(EncryptionKeyError) as caught:
        encrypt(SECRET)

    assert "position" in str(caught.value)
    assert bad not in str(caught.value)


def test_reencrypt_moves_a_value_to_the_newest_key_and_leaves_a_current_one_alone(use_keys):
    use_keys(OLD_KEY)
    old_token = encrypt(SECRET)
    use_keys(NEW_KEY, OLD_KEY)

    fresh = reencrypt(old_token)

    assert Fernet(NEW_KEY.encode()).decrypt(fresh.encode()).decode() == SECRET
    assert reencrypt(fresh) is None


def test_reencrypt_also_opens_a_value_written_under_the_development_key(use_keys):
    use_keys()
    development_token = encrypt(SECRET)
    use_keys(NEW_KEY)

    fresh = reencrypt(development_token)

    assert Fernet(NEW_KEY.encode()).decrypt(fresh.encode()).decode() == SECRET
    with pytest.raises(DecryptionError):
        decrypt(development_token)  # serving code does not: only the rotation command


def test_reencrypt_of_a_value_no_key_opens_is_a_decryption_error(use_keys):
    use_keys(OLD_KEY)
    token = encrypt(SECRET)
    use_keys(NEW_KEY)

    with pytest.raises(DecryptionError):
        reencrypt(token)
