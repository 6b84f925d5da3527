# Set-up in two commands: `make demo` and `make test` (both install into .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
RESULTS ?= results
SEED ?= 1
# Demo size: the `small` simulation with short windows trains in minutes on a laptop CPU.
# The model acceptance setting (README, Benchmarks; ~30 min of EPIPAM training on 2 cores):
# make demo PRESET=default SEED=0 ENHANCER_LENGTH=500 PROMOTER_LENGTH=500 FOLDS=8 EPOCHS=100 \
#     TRAIN_ARGS='--class-weight --negatives-per-positive 5 --patience 25'
PRESET ?= small
ENHANCER_LENGTH ?= 1000
PROMOTER_LENGTH ?= 1000
GENE_WINDOW ?= 256
DEMO_MODEL ?= epipam
EPOCHS ?= 8
TRAIN_ARGS ?= --class-weight
FOLDS ?= 3
SIM := $(RESULTS)/simulated

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
	$(BIN)/epi-simulate -o $(SIM) --preset $(PRESET) --seed $(SEED) --force
	$(BIN)/epi-contacts --pairs $(SIM)/pairs.tsv --hic $(SIM)/hic.mcool -o $(RESULTS)/contacts/pairs.tsv
	$(BIN)/epi-prioritize abc --pairs $(RESULTS)/contacts/pairs.tsv --dhs $(SIM)/dnase.bw \
		--h3k27ac $(SIM)/h3k27ac.bw -o $(RESULTS)/abc/abc.tsv
	$(BIN)/epi-encode pairs --pairs $(SIM)/pairs.tsv --genome $(SIM)/genome.fa \
		--enhancer-length $(ENHANCER_LENGTH) --promoter-length $(PROMOTER_LENGTH) --seed $(SEED) \
		-o $(RESULTS)/encoded/pairs.h5
	$(BIN)/epi-train --data $(RESULTS)/encoded/pairs.h5 --model $(DEMO_MODEL) --split chrom --folds $(FOLDS) --fold 1 \
		$(TRAIN_ARGS) --epochs $(EPOCHS) --seed $(SEED) -o $(RESULTS)/runs/$(DEMO_MODEL)_chrom_fold1
	$(BIN)/epi-predict --model $(RESULTS)/runs/$(DEMO_MODEL)_chrom_fold1/model.pt \
		--pairs $(SIM)/pairs.tsv --genome $(SIM)/genome.fa -o $(RESULTS)/predictions/$(DEMO_MODEL).tsv
	$(BIN)/epi-attribute scores --model $(RESULTS)/runs/$(DEMO_MODEL)_chrom_fold1/model.pt \
		--data $(RESULTS)/encoded/pairs.h5 --n-shuffles 10 --max-pairs 32 --seed $(SEED) \
		-o $(RESULTS)/attribution
	$(BIN)/epi-encode genes --genes $(SIM)/genes.tsv --elements $(SIM)/elements.bed --genome $(SIM)/genome.fa \
		--hic $(SIM)/hic.mcool --enhancer-length $(GENE_WINDOW) --promoter-length $(GENE_WINDOW) \
		-o $(RESULTS)/encoded/genes.h5
	$(BIN)/epi-train --data $(RESULTS)/encoded/genes.h5 --model epinformer --split chrom12 --fold 1 \
		--epochs $(EPOCHS) --seed $(SEED) -o $(RESULTS)/runs/epinformer_chrom12_fold1
	$(BIN)/epi-prioritize epinformer --model $(RESULTS)/runs/epinformer_chrom12_fold1/model.pt \
		--data $(RESULTS)/encoded/genes.h5 -o $(RESULTS)/prioritize
	$(BIN)/epi-report $(RESULTS)/runs -o $(RESULTS)/report.html
	@echo "demo finished: open $(RESULTS)/report.html"

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
