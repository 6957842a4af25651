# Two commands do all the set-up:  make demo  (the main job)  and  make test  (the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := dev,report,dask,sklearn,docs

.PHONY: demo test lint docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@# rpy2 needs R; without it the R cross-checks are skipped with the reason.
	@if command -v R >/dev/null 2>&1; then $(PY) -m pip install -q "rpy2==3.5.17"; \
	  else echo "R not found: R cross-checks will be skipped (see README)"; fi
	$(PY) -m emstat._warmup
	@# Bytecode, as a wheel's install writes it: an editable install (and PYTHONDONTWRITEBYTECODE)
	@# would otherwise compile the package's sources in every process (0.25 s of each command).
	$(PY) -m compileall -q emstat
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/emstat select data/faithful.csv --k 1:9 --report out/faithful.html --pdf --overwrite --mkdir
	@echo "the report is in $(CURDIR)/out/ (faithful.html, faithful.pdf, and faithful.qmd to edit)"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check emstat tests bench reports
	$(VENV)/bin/ruff format --check emstat tests bench reports
	$(VENV)/bin/mypy emstat

test: lint
	$(VENV)/bin/pytest -q --doctest-modules emstat tests

# The API reference, from the docstrings; any warning fails the build.
docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -q -E -W --keep-going -b html docs docs/_build/html
	@echo "the API reference is in $(CURDIR)/docs/_build/html/index.html"

bench: $(VENV)/.installed
	$(PY) bench/gmm_vs_sklearn.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/_build
