.PHONY: run test lint bench

# Run the gateway on its embedded defaults (SQLite, local cache, dev authorization server).
run:
	scripts/run-dev.sh

# Run the whole test suite (installs what it needs).
test:
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
