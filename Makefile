# The two commands of the README, each working from a fresh clone:
#   make lecture   the main job: the whole lecture, end to end (ARGS="--seed=1" passes flags)
#   make test      the test suite (PYTEST_ARGS="-k idx" passes pytest options)
# Both create .venv when it is missing, (re)install the package into it when pyproject.toml
# is newer than the last install, and fetch and verify MNIST when it is not cached.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: lecture test data clean

lecture: data
	$(PY) scripts/lecture.py $(ARGS)

test: data
	$(PY) -m pytest $(PYTEST_ARGS)

data: $(STAMP)
	$(PY) -m cadl_graph.datasets --fetch

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf runs .pytest_cache
