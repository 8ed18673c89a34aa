# Two commands a newcomer needs: `make run` (API + demo data on SQLite) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The console's browser libraries (htmx, Chart.js, Pico CSS) come from npm: package-lock.json pins them.
ASSETS := node_modules/.package-lock.json
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite bench fonts translations clean app

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(ASSETS)

# The clerk app (a PWA at /app/): bundled by esbuild from clients/app and the sync client.
APP_BUILD := clients/app/dist/index.html
APP_SOURCES := $(wildcard clients/app/build.mjs clients/app/src/*) $(wildcard clients/js/src/*.js clients/js/src/*/*.js)

$(APP_BUILD): $(ASSETS) $(APP_SOURCES)
	node clients/app/build.mjs

app: $(APP_BUILD)

# After changing console texts: refresh the zh_CN catalog, then fill in its empty msgstr lines.
translations: $(STAMP)
	mkdir -p instance
	$(BIN)/pybabel extract -F backend/console/babel.cfg --no-location -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d backend/console/translations --no-fuzzy-matching --width 100

# Chinese text on printed QR sheets needs a CJK TrueType font (Debian: fonts-wqy-zenhei).
fonts:
	@[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null || true; \
		else echo "tip: apt-get install fonts-wqy-zenhei for Chinese text on QR sheets"; fi; }

run: $(STAMP) $(ASSETS) $(APP_BUILD) fonts
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi seed demo
	@echo "API: http://$(HOST):$(PORT)/api/v1  docs: http://$(HOST):$(PORT)/api/docs"
	@echo "Console: http://$(HOST):$(PORT)/console  (sign in with a demo login above)"
	@echo "Clerk app: http://$(HOST):$(PORT)/app/  (a demo clerk login; a phone-sized window)"
	ZHIDA_INPROCESS_WORKER=1 $(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: $(STAMP) $(ASSETS) $(APP_BUILD)
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		echo "Running the suite on SQLite and PostgreSQL"; \
	else \
		echo "PostgreSQL is NOT installed: only SQLite runs (apt-get install postgresql)"; \
	fi
	$(BIN)/pytest -q -n 2 -rs $(PYTEST_ARGS)

test-sqlite: $(STAMP) $(ASSETS) $(APP_BUILD)
	$(BIN)/pytest -q -k "not postgresql" $(PYTEST_ARGS)

bench: $(STAMP) $(APP_BUILD)
	$(BIN)/python -m bench.publish
	$(BIN)/python -m bench.claims
	$(BIN)/python -m bench.sync --shape contention
	$(BIN)/python -m bench.sync --shape batches
	$(BIN)/python -m bench.sync --shape bootstrap
	$(BIN)/python -m bench.inprocess --shape push
	$(BIN)/python -m bench.inprocess --shape claim
	$(BIN)/python -m bench.feed
	$(BIN)/python -m bench.pairings
	$(BIN)/python -m bench.notify
	$(BIN)/python -m bench.analytics
	$(BIN)/python -m bench.scripts_bandit
	$(BIN)/python -m bench.app

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules test-artifacts clients/app/dist
