# cimtwin: `make demo` builds the demo district and serves it; `make test` runs the suite.
# Both install what is missing (idempotent) on a fresh Debian machine as root.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CIMTWIN := $(VENV)/bin/cimtwin
APT_PACKAGES := python3-venv chromium openscenegraph fonts-noto-cjk proj-data gdal-bin \
  postgresql-15-postgis-3 redis-server mosquitto mosquitto-clients nginx-light wrk \
  g++ libopenscenegraph-dev
# Only for `make bench`: pygeoapi's SQLite provider (bench/bench_pygeoapi.py) loads SpatiaLite.
BENCH_APT_PACKAGES := libsqlite3-mod-spatialite
# No token is exported here: sign in with a user account (docs/security.md). Break-glass
# tokens, when wanted, come from the caller's environment, never from this file.

.PHONY: all install venv npm system demo serve test test-fast lint native bench bench-system clean
.PHONY: stack stack-stop

all: install

install: venv npm native

# Python packages into .venv, the project itself editable.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e . --config-settings editable_mode=compat
	touch $@

# The in-process OSGB reader (tiles/readers/osgb.py loads it with ctypes).
OSGB_LIB := tiles/readers/_osgb_native.so
native: $(OSGB_LIB)
$(OSGB_LIB): tiles/readers/osgb_native.cpp | system
	g++ -O2 -std=c++17 -shared -fPIC -Wall -o $@ $< -losg -losgDB

# CesiumJS (served by the server, offline) and the Khronos glTF validator.
npm: system node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages: chromium for the browser tests, OpenSceneGraph to read .osgb,
# CJK fonts so Chinese labels render. Installed only when missing.
system:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench-system: system
	@missing=""; for p in $(BENCH_APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for the benchmarks:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: system install
	$(CIMTWIN) demo
	@echo "Open http://127.0.0.1:8000/ for public data. To see internal data (the BIM model),"
	@echo "create an account, e.g. '$(CIMTWIN) users add planner1 --role planner', and sign in."
	$(CIMTWIN) serve --simulate

serve: install
	$(CIMTWIN) serve

test: system install lint
	CI=$${CI:-} $(PY) -m pytest -q --durations=25

# pyflakes + line length (rules in pyproject.toml [tool.ruff]).
lint: venv
	$(PY) -m ruff check server tiles layers bim_import tests bench

test-fast: install
	$(PY) -m pytest -q -m "not browser and not slow"

# Benchmarks (bench/README.md): their own packages, then every run; QUICK=1 for a smoke run.
bench: install bench-system
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) bench/run_all.py $(if $(QUICK),--quick)

# The production layout on loopback (docs/deploy.md): nginx, gunicorn WORKERS gevent
# workers, PostgreSQL+PostGIS, Redis, a Dask scheduler and 2 Dask workers, under var/stack/.
WORKERS ?= 2
stack: system install
	$(PY) deploy/stack.py start --workers $(WORKERS)

stack-stop:
	$(PY) deploy/stack.py stop

clean:
	rm -rf var bench/out .pytest_cache
