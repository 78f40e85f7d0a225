"""A fast, salted hash for machine-generated client secrets.

PBKDF2's hundreds of thousands of rounds exist to slow down guessing of
low-entropy human passwords. A client secret the gateway generates has 128
characters from a 62-letter alphabet (about 760 bits): no number of rounds
changes whether it can be guessed, so one HMAC-SHA256 keyed with a random salt is
as safe and costs microseconds instead of about 0.3 s of CPU per token request.
Secrets typed by a person must meet ``MIN_CUSTOM_SECRET_LENGTH`` before this
hasher may store them (``oauthgw.issuing.clients.client_secret_validate``).
"""

import hashlib
import hmac

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

# A secret a person chooses has far less entropy per character than a generated
# one; with a fast hash only length keeps it out of reach of offline guessing
# should the hashes leak. 32 characters even of lowercase letters and digits are
# about 165 bits.
MIN_CUSTOM_SECRET_LENGTH = 32


class ClientSecretHasher(BasePasswordHasher):
    algorithm = "oauthgw_hmac_sha256"

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict:
        algorithm, salt, digest = encoded.split("$", 2)
        if algorithm != self.algorithm:
            raise ValueError("not an oauthgw_hmac_sha256 hash")
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        # Constant cost already: nothing to equalise.
        return None
