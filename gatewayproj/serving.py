"""The system checks a server must pass before it answers a request.

Django runs its system checks for ``runserver`` and most management commands,
but not when a production server (``gatewayproj.server``, or gunicorn through
``gunicorn.conf.py``) loads the application. A server calls
``check_before_serving`` first: Django's usual checks (every ``Error`` of
``manage.py check``) and the gateway's serving checks, which are deployment
checks (``oauthgw.checks.SERVING``: without ``OAUTHGW_ISSUER`` outside debug
mode, the issuer would follow the Host header). It stops the process with the
report, as ``runserver`` does, when one fails.
"""

import os
import sys

import django
from django.core.management.base import BaseCommand, SystemCheckError


def check_before_serving() -> None:
    """Set Django up and run the checks; exit with their report (status 1) if the gateway must not serve."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatewayproj.settings")
    django.setup()
    from oauthgw.checks import SERVING

    command = BaseCommand()
    try:
        # Warnings are printed (to stderr) and let the server start; errors stop it.
        command.check()
        command.check(tags=[SERVING], include_deployment_checks=True)
    except SystemCheckError as error:
        sys.exit(f"The gateway will not serve:\n{error}")
