"""Reading typed values from the process environment (12-factor configuration).

The one place that reads it: everything else gets its configuration from Django's
settings (``gatewayproj.settings``), the gateway's own keys through ``oauthgw.conf``.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_prefixed(prefix: str) -> dict[str, str]:
    """Every variable named ``<prefix><KEY>``, as ``{KEY: value}`` (the gateway's own settings)."""
    return {name.removeprefix(prefix): value for name, value in os.environ.items() if name.startswith(prefix)}
