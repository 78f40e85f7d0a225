"""scripts/install-system-deps.sh (run by ``make test`` before pytest) leaves no test service enabled at boot.

Debian enables a package's service when it installs it; Glewlwyd's and nginx's would
then serve on every boot of a machine that only ran the tests.
"""

import subprocess

import pytest

from tests.support.processes import ROOT


def boot_state(unit: str) -> str:
    return subprocess.run(["systemctl", "is-enabled", unit], capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("unit", ["glewlwyd.service", "nginx.service"])
def test_the_services_the_test_packages_bring_are_not_enabled_at_boot(unit):
    if boot_state(unit) in ("", "not-found"):
        pytest.skip(f"{unit} is not installed")

    assert boot_state(unit) != "enabled"


def test_the_install_step_is_idempotent_and_quiet_once_everything_is_there():
    again = subprocess.run(
        ["bash", "scripts/install-system-deps.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )

    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
