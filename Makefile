# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000
QUEUES ?= gpu
PYTEST_ARGS ?=

.PHONY: run worker test install install-test migrate lint format browser js clean-var

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

# Ultralytics requires the GUI build of OpenCV (opencv-python) while the app uses the
# headless one (requirements.txt): both install the same cv2/ package, so the one installed
# last wins file by file. Keep the headless one only: remove the GUI distribution, then
# reinstall the headless files it shared (uninstalling one removes the other's cv2 files).
define ONE_OPENCV
	@if $(PY) -m pip show --quiet opencv-python >/dev/null 2>&1; then \
	  echo "Keeping opencv-python-headless only (Ultralytics pulled in opencv-python)"; \
	  $(PIP) uninstall --quiet -y opencv-python && \
	  $(PIP) install --quiet --force-reinstall --no-deps "$$(grep -E '^opencv-python-headless==' requirements.txt)"; \
	fi
	$(PY) -c "import cv2" || { echo "cv2 does not import after keeping one OpenCV"; exit 1; }
	@touch $(VENV)/.one-opencv
endef

$(VENV)/.installed: requirements.txt Makefile | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	$(ONE_OPENCV)
	@touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PIP) install -r requirements-test.txt
	$(ONE_OPENCV)
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	$(PY) manage.py migrate --noinput

# Installs, migrates, makes sure an admin exists, then runs the embedded Redis (when
# REDIS_URL is unset), one Celery worker on both queues and the web server. Ctrl-C stops all.
run: migrate
	$(PY) manage.py ensure_admin
	$(PY) -m webapp.devstack --host $(HOST) --port $(PORT)

# A worker only, e.g. on a GPU node sharing DATABASE_URL, REDIS_URL and storage settings.
worker: install
	$(VENV)/bin/celery -A webapp worker -Q $(QUEUES) -c 1 --prefetch-multiplier 1 -l INFO

# Headless Chromium for the browser tests: Debian's package, installed when we are root.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "NOTE: /usr/bin/chromium is missing: browser tests will be skipped."; \
	  echo "      Install it with: sudo apt-get install chromium"; \
	fi

# Node for the JavaScript's unit tests and ESLint (pinned in package-lock.json): Debian's
# nodejs/npm when missing and we are root, then `npm ci` when the lockfile changed.
node_modules/.package-lock.json: package.json package-lock.json
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's nodejs and npm for the JavaScript tests and lint..."; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	fi
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "NOTE: npm is missing: the JavaScript tests and lint will be skipped."; fi

js: node_modules/.package-lock.json

test: install-test browser js
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install-test js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	npx --no-install eslint static/ tests/js/ eslint.config.js

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
