# The two commands a newcomer needs:  `make run`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test venv lock lock-upgrade lint format bench clean screenshots mutation

# Installs exactly the locked versions, each file checked against its hash (requirements-dev.lock,
# made by `make lock` from the ranges in requirements-dev.txt and requirements.txt).
$(STAMP): requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP)

# The lock files, with the hash of every file of each release: requirements.lock (what the portal
# runs on: the Dockerfile) and requirements-dev.lock (the same versions plus the tools and tests:
# make venv, CI). `make lock` brings them in step with requirements*.txt and keeps every version
# already pinned (a package added or removed, a range moved); `make lock-upgrade` takes the newest
# version of every package within the ranges. Review the diff, run `make test`, commit both.
LOCK_FLAGS ?=
lock: venv
	$(BIN)/python -m uv pip compile --quiet $(LOCK_FLAGS) --generate-hashes --universal --python-version 3.11 \
	  --custom-compile-command "make lock" requirements.txt -o requirements.lock
	$(BIN)/python -m uv pip compile --quiet $(LOCK_FLAGS) --generate-hashes --universal --python-version 3.11 \
	  --custom-compile-command "make lock" --constraint requirements.lock requirements-dev.txt -o requirements-dev.lock

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

# Web + Celery worker + Celery beat on the embedded defaults (SQLite, filesystem broker,
# emails written to var/mail/). Ctrl-C stops all three.
run: venv
	mkdir -p var
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  The portal is starting at http://127.0.0.1:8000/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	@# `set -m` runs the processes as a job of their own, as an interactive shell would, so
	@# Ctrl-C goes to them and not to make, which would otherwise end with "Interrupt";
	@# bench/run_dev.py waits for the worker's warm shutdown and treats the stop as clean.
	set -m; PATH="$(CURDIR)/$(BIN):$$PATH" DEBUG=true $(BIN)/python bench/run_dev.py -f Procfile.dev start

# The whole suite. Tests that need PostgreSQL, Redis or Chromium skip with a reason when
# those are missing, unless REQUIRE_SERVICES=1 (as in CI), where they fail instead.
# pytest's own exit status is kept in var/test-exit-status (make itself exits 2 on any
# failure), so that CI can exit with it.
test: venv
	mkdir -p var
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; echo $$status > var/test-exit-status; exit $$status

# Mutation testing of the modules that hold the rules (like the benchmarks, not in every CI run):
# prints the score per module and the survivors not explained in docs/mutation-survivors.md.
# One mutant at a time (one core), fast tests only (SQLite, no browser, no services).
# MUTATE=ledger,periods runs some modules; the README's Tests section lists them.
mutation: venv
	$(BIN)/python bench/mutation.py $(MUTATE)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/celery var/mail var/staticfiles mutants

# Screenshots of the main pages for the README, from a throw-away demo database.
SHOTS_VAR := var/screenshots
screenshots: venv
	rm -rf $(SHOTS_VAR) && mkdir -p $(SHOTS_VAR)
	VAR_DIR=$(SHOTS_VAR) DEBUG=true $(BIN)/python manage.py migrate --noinput -v0
	VAR_DIR=$(SHOTS_VAR) DEBUG=true $(BIN)/python manage.py seed_demo
	VAR_DIR=$(SHOTS_VAR) DEBUG=true $(BIN)/python manage.py runserver --noreload 127.0.0.1:8765 >$(SHOTS_VAR)/server.log 2>&1 & \
	  server=$$!; sleep 3; \
	  VAR_DIR=$(SHOTS_VAR) DEBUG=true $(BIN)/python manage.py screenshots --base-url http://127.0.0.1:8765; rc=$$?; \
	  kill $$server; exit $$rc
