# grantwarden: `make demo` runs the daemon on the embedded simulator, `make test` passes the tests.
# Both set up everything they need on a fresh machine (a virtualenv in .venv, and Debian's
# prometheus package for the scrape tests when running as root).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all venv system-deps lint typecheck imports unit test demo bench soak schema clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# promtool and prometheus for the real-scrape and alert-rule tests; the blackbox exporter for the peer benchmark.
system-deps:
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-blackbox-exporter >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				prometheus prometheus-blackbox-exporter >/dev/null; \
			systemctl disable --now prometheus prometheus-node-exporter prometheus-blackbox-exporter >/dev/null 2>&1 || true; \
		else \
			echo "install Debian's prometheus and prometheus-blackbox-exporter packages (needs root)"; exit 1; \
		fi; \
	fi

lint: venv
	$(BIN)/ruff check daemon tests
	$(BIN)/ruff format --check daemon tests

typecheck: venv
	$(BIN)/mypy

imports: venv
	$(BIN)/lint-imports

unit: venv system-deps
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck imports unit

demo: venv
	$(BIN)/grantwarden demo --duration $${DURATION:-45}

bench: venv system-deps
	$(BIN)/python -m tests.perf.run

soak: venv
	$(BIN)/python -m tests.soak.run

schema: venv
	$(BIN)/grantwarden schema > daemon/grantwarden/config/grantwarden.schema.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results.json bench-results.md
