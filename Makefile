# The commands the README names. Needs Python >= 3.11 and uv (`pip install uv`).
.PHONY: test demo lint lock lock-upgrade

# The template's own tests: hooks, bad inputs, every variant baked, linted and type-checked,
# the generated suite run on PostgreSQL both ways, deployment files validated.
# TEMPLATE_TEST_DATABASE_URL names the server (default postgresql://postgres@127.0.0.1:5432/postgres).
# Bytecode caching on, whatever the machine says: with PYTHONDONTWRITEBYTECODE set (some CI
# images set it) every process the suite starts compiles each module it imports again, and an
# app's start-up in a test took 2.1 s instead of 0.9 s.
# Three xdist workers for two cores (tests/conftest.py says why); worksteal hands a finished
# worker tests queued on a busy one, so the last minutes are not one worker's queue.
test:
	env -u PYTHONDONTWRITEBYTECODE uv run --locked pytest -n auto --dist worksteal

# Bake the defaults into build/my-service and serve it on http://127.0.0.1:8000
# (an embedded PostgreSQL starts in build/my-service/.pgdata; Ctrl-C stops both).
# It bakes for the Python uv finds here (major.minor), not the template's default (3.14), so
# nothing is downloaded on a machine that has only 3.11; `make demo DEMO_PYTHON=3.14`
# asks for another offered version.
DEMO_PYTHON ?= $(shell "$$(uv python find 2>/dev/null)" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

demo:
	@test -n "$(DEMO_PYTHON)" || { echo "make demo: uv finds no Python here (3.11+ needed)" >&2; exit 1; }
	rm -rf build/my-service
	uvx --from 'cookiecutter>=2.6,<3' cookiecutter --no-input --output-dir build . \
		python_version=$(DEMO_PYTHON)
	cd build/my-service && uv run python -m my_service

lint:
	uv run --locked --with ruff ruff check hooks tests scripts
	uv run --locked --with ruff ruff format --check hooks tests scripts

# The uv.lock every bake ships, made in a bake of the defaults (scripts/lock_bake.py).
# lock: after editing the generated pyproject.toml (keeps every other pin).
# lock-upgrade: every dependency to the newest version its range allows; then `make test`.
lock:
	uv run --locked python scripts/lock_bake.py

lock-upgrade:
	uv run --locked python scripts/lock_bake.py --upgrade
