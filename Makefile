# The two commands of README.md, and a few helpers. Everything installs into .venv from the
# hash-pinned lock file; nothing is expected to be installed by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo experiments test test-slow test-torch lint format lock install viewer browser dicom3tools slurm slurm-stop clean

## demo: install, run the whole workflow on the built-in demo, print the report's path
demo: install
	WELD_ANOMALY_REPORT_LINE=0 $(BIN)/snakemake --cores all
	@echo "Report: $(CURDIR)/results/report/report.html"  # last: after Snakemake's own summary

## experiments: install, run the thesis's model experiments (about 10 minutes on 2 CPU cores)
experiments: install
	$(BIN)/snakemake experiments --cores all
	@echo "Experiments: $(CURDIR)/results/experiments/experiments.html"

## test: install, then run the test suite (what CI runs); the test Slurm is stopped after
test: install browser dicom3tools slurm
	$(BIN)/pytest; status=$$?; bash tests/slurm/slurm-local.sh stop; exit $$status

## test-slow: the checks marked slow (not part of `make test`)
test-slow: install
	$(BIN)/pytest -m slow

## test-torch: also check the PyTorch backend (installs torch 2.13.0 into .venv; on machines
## without a local CPU wheel pip downloads a CUDA build of several GB)
test-torch: install
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/pytest tests/unit/test_backends.py

## lint: ruff, snakefmt and Snakemake's linter
lint: install
	$(BIN)/ruff check src scripts tests
	$(BIN)/ruff format --check src scripts tests
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint
	$(BIN)/python tests/code_structure.py

format: install
	$(BIN)/ruff format src scripts tests
	$(BIN)/snakefmt .

## lock: re-resolve requirements.lock from pyproject.toml (needs network)
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile --quiet -p 3.11 pyproject.toml --extra codecs --extra dev --generate-hashes \
		--python-platform x86_64-manylinux_2_28 -o requirements.lock

install: $(STAMP) viewer

## viewer: the report's image viewer, OpenSeadragon, from the npm registry as package-lock.json
## pins it (integrity hash); the report copies it next to its weld pages and works offline
VIEWER := node_modules/openseadragon/build/openseadragon/openseadragon.min.js
viewer: $(VIEWER)

$(VIEWER): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js and npm (Debian: apt-get install npm) for the report's image viewer"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(VIEWER)

## browser: Debian's Chromium for the report's browser test (root and apt-get, as in CI;
## tests/apt-install.sh installs only what is missing and upgrades nothing it need not)
browser:
	@command -v chromium >/dev/null || bash tests/apt-install.sh chromium fonts-liberation \
		|| { echo "could not install chromium (needs root and apt-get); without root run" \
			".venv/bin/pytest -m 'not browser and not slurm'"; exit 1; }

## dicom3tools: Debian's DICOM validator (dciodvfy) for the test of the DICOM findings
dicom3tools:
	@command -v dciodvfy >/dev/null || bash tests/apt-install.sh dicom3tools \
		|| { echo "could not install dicom3tools (needs root and apt-get)"; exit 1; }

## slurm: a single-node Slurm with two fake GPUs for the `slurm` tests (root, Debian 12;
## installs slurm-wlm, munge, MariaDB with apt-get the first time; idempotent)
slurm:
	bash tests/slurm/slurm-local.sh start

## slurm-stop: stop the test Slurm's daemons (`make test` does it after the suite)
slurm-stop:
	bash tests/slurm/slurm-local.sh stop

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf results logs .snakemake resources/demo resources/demo-test
