# Swarmsite: `make run` serves the dashboard on http://127.0.0.1:8000 (SQLite, in-memory channel layer)
# with the demo swarm running against it (`DEMO=0 make run` serves alone);
# `make test` runs the whole suite. Both create .venv and install on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
# No secret key ships with the code: a local run keeps a random one in .secret-key (never committed).
SECRET_KEY ?= $(shell test -s .secret-key || $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))' > .secret-key; cat .secret-key)
export SECRET_KEY

.PHONY: run install test test-unit test-e2e lint bench migrate clean

# constraints.txt pins every installed package (transitive ones too) to the versions tested together.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py ensure_admin

run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo "Swarmsite on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: install test-unit test-e2e

# The suite runs in TEST_JOBS processes (pytest-xdist), one test file per process at a time: most tests
# wait on servers they start, so two processes finish in about half the time even on 2 cores.
TEST_JOBS ?= 2
test-unit: install
	$(BIN)/pytest tests --ignore=tests/e2e -q -n $(TEST_JOBS) --dist loadfile

# Browser tests drive Debian's /usr/bin/chromium (apt-get install chromium); they run in their own
# pytest process because sync Playwright needs DJANGO_ALLOW_ASYNC_UNSAFE.
test-e2e: install
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/pytest tests/e2e -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) staticfiles test_db.sqlite3 artifacts
