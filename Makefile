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

lecture: data cc
	$(PY) scripts/lecture.py $(ARGS)

test: data cc
	$(PY) -m pytest $(PYTEST_ARGS)

data: $(STAMP)
	$(PY) -m cadl_graph.datasets --fetch

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf runs .pytest_cache

# The C++ loader, linked against the TensorFlow wheel in .venv (DESIGN §6). Without
# --no-as-needed it links but fails at run time with "No session factory registered".
TF_LIB = $$($(PY) -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("tensorflow").origin))')
TF_CFLAGS = $$($(PY) -c 'import tensorflow as tf; print(" ".join(tf.sysconfig.get_compile_flags()))' 2>/dev/null)
LINKER = $$(command -v ld.gold >/dev/null && echo -fuse-ld=gold)

.PHONY: cc
cc: build/load_graph

build/load_graph: cc/load_graph.cc $(STAMP)
	mkdir -p build
	g++ -O2 -Wall $(TF_CFLAGS) -Wno-deprecated-declarations -Wno-interference-size -o $@.tmp $< -L$(TF_LIB) \
	    -Wl,--no-as-needed \
	    -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 -Wl,--as-needed \
	    -Wl,-rpath,$(TF_LIB) $(LINKER)
	mv $@.tmp $@
