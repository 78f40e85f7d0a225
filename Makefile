.PHONY: run test lint bench createsuperuser client

# Run the gateway on its embedded defaults (SQLite, no Redis, dev authorization server)
# until Ctrl-C or `kill <make pid>`. GATEWAY_PORT (8000) and DEV_AUTH_PORT (9011) move it.
run:
	scripts/run-dev.sh

# Run the whole test suite (installs what it needs).
test:
	scripts/test.sh

# Style, and the architecture's import rules (pyproject.toml, docs/architecture.md).
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

# An admin account for /admin/ (asks for a username and a password).
createsuperuser:
	scripts/manage.sh createsuperuser

# Register a client and print its key and secret, shown only this once:
#   make client NAME=my-app [GRANTS=password,refresh_token] [SCOPES=hello]
GRANTS ?= password,refresh_token
SCOPES ?= hello
client:
	@test -n "$(NAME)" || { echo 'usage: make client NAME=my-app [GRANTS=password,refresh_token] [SCOPES=hello]' >&2; exit 2; }
	@scripts/manage.sh create_client "$(NAME)" --grant-types "$(GRANTS)" --scopes "$(SCOPES)"
