# The two commands a newcomer needs (see README):
#   make demo   - create .venv, install the tested stack, run the main job
#   make test   - create/update .venv and run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo quickstart test test-fast bench docs clean

# Re-install only when the pins or setup.py change.
$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# The main job: precipitation nowcasting on generated radar data, SCS against
# ConvLSTM, persistence and optical flow, then a SavedModel export.
demo: $(STAMP)
	$(VENV)/bin/scs-keras demo

quickstart: $(STAMP)
	$(PY) examples/quickstart.py

test: $(STAMP)
	$(PY) -m pytest -q tests

# Everything but the end-to-end checks marked `slow`.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

bench: $(STAMP)
	$(PY) benchmarks/bench_layers.py

# The mkdocs site (README, benchmarks, task pages) into site/.
docs: $(STAMP)
	$(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
