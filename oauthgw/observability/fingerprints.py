"""Short, one-way fingerprints that let a log line refer to a value without holding it."""

import hashlib


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
