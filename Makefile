# siscore: one command to install and run the demo, one to run the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= 2

.PHONY: install demo demo-eval test lint bench docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py constraints/tested.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints/tested.txt -e ".[all]"
	touch $@

demo: install  ## render the location subset from the embedded assets into data/location
	$(VENV)/bin/siscore build --subset location --out data/location --jobs $(JOBS)
	$(VENV)/bin/siscore info --dataset data/location --max-values 5

DEMO_EVAL := data/demo-eval
demo-eval: install  ## EfficientNet-Lite0 (real ImageNet weights, CPU) on a small grid: evaluate, score, report
	mkdir -p $(DEMO_EVAL)
	$(VENV)/bin/siscore evaluate --config examples/demo_eval.toml --model efficientnet_lite0 \
		--device cpu --out $(DEMO_EVAL)/lite0.csv
	$(VENV)/bin/siscore score --predictions $(DEMO_EVAL)/lite0.csv --out $(DEMO_EVAL)/scores.csv
	$(VENV)/bin/siscore report --scores $(DEMO_EVAL)/scores.csv --out $(DEMO_EVAL)/report --format png
	@echo "open $(CURDIR)/$(DEMO_EVAL)/report/index.html"

test: install  ## the test suite (what CI runs)
	@command -v pdftoppm >/dev/null 2>&1 || echo "note: pdftoppm is missing, the report's PDF render tests will skip; install poppler-utils (Debian/Ubuntu: sudo apt-get install poppler-utils)"
	$(PY) -m pytest -n $(JOBS) --durations=15

lint: install
	$(VENV)/bin/ruff check siscore tests benchmarks examples tools
	$(VENV)/bin/lint-imports

bench: install  ## speed and memory benchmarks (prints ratios against the JPEG floor)
	$(PY) benchmarks/run.py

docs: install  ## the manual as a website in site/ (MkDocs Material); a broken link fails the build
	@$(VENV)/bin/mkdocs --version >/dev/null 2>&1 || $(PY) -m pip install --quiet -c constraints/tested.txt -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
	@echo "open $(CURDIR)/site/index.html"

clean:
	rm -rf data bench-out examples/out .pytest_cache
