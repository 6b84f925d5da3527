# Set-up in two commands: `make demo` and `make test` (both install into .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RESULTS ?= results
SEED ?= 1

.PHONY: install test test-slow demo bench pipeline-test clean

# torch is installed first and pinned so that no CUDA wheels are pulled on CPU machines.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q -m "not slow"

test-slow: install
	$(PY) -m pytest -q -m slow

demo: install
	bash bin/demo.sh $(RESULTS) $(SEED)

bench: install
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

pipeline-test:
	@if command -v nextflow >/dev/null 2>&1; then \
		nextflow run main.nf -profile test --outdir $(RESULTS)/pipeline-test; \
	else echo "pipeline-test skipped: nextflow is not on PATH"; fi
	@if command -v nf-test >/dev/null 2>&1; then nf-test test; \
	else echo "nf-test skipped: nf-test is not on PATH"; fi

clean:
	rm -rf $(VENV) $(RESULTS) .pytest_cache work .nextflow*
