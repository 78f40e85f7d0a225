"""The benchmark: the gateway against a stock django-oauth-toolkit configuration (see README.md)."""
