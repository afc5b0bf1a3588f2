# The two commands of the README, each working from a fresh clone:
#   make lecture   the main job: the whole lecture, end to end (ARGS="--seed=1" passes flags)
#   make test      the test suite (PYTEST_ARGS="-k idx" passes pytest options)
# Both create .venv when it is missing, (re)install the package into it when pyproject.toml
# is newer than the last install, and fetch and verify MNIST when it is not cached.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: lecture test data clean bazel-test bench

lecture: data cc
	$(PY) scripts/lecture.py --loader=build/load_graph $(ARGS)

# The suite runs on every core (pytest-xdist), each test file whole on one worker (a file's
# fixtures build wheels, clusters and trained runs once); --update-goldens runs in one process,
# which lists every golden it wrote.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PARALLEL = $(if $(findstring update-goldens,$(PYTEST_ARGS)),,-n $(TEST_JOBS) --dist loadfile)

test: data cc bazel-test
	$(PY) -m pytest $(PARALLEL) $(PYTEST_ARGS)

data: $(STAMP)
	$(PY) scripts/fetch_mnist.py

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test,cpu]'
	@# A .venv made before the switch to tensorflow-cpu also holds the full "tensorflow" wheel;
	@# both install the same files, so drop the old one and restore the CPU build's files.
	@if $(PY) -m pip show -q tensorflow >/dev/null 2>&1; then \
	    echo "replacing the full tensorflow wheel with tensorflow-cpu (see pyproject.toml)"; \
	    $(PY) -m pip uninstall --quiet -y tensorflow && \
	    $(PY) -m pip install --quiet --force-reinstall --no-deps 'tensorflow-cpu==2.21.0'; \
	fi
	touch $@

# Speed beside a bare graph-mode loop, Keras 3 and PyTorch (when installed; TORCH_PYTHON=path
# to an interpreter that has it): runs/bench/RESULTS.md; docs/speed.md explains the table.
bench: data cc
	$(PY) scripts/benchmark.py $(if $(TORCH_PYTHON),--torch_python=$(TORCH_PYTHON)) $(ARGS)

clean:
	rm -rf runs .pytest_cache

# The C++ loader, linked against the TensorFlow wheel in .venv: the same build an installed
# wheel does with `cadl-graph build_loader` (cadl_graph/export/loader.py holds the g++ line).
.PHONY: cc
cc: build/load_graph

build/load_graph: cc/load_graph.cc cadl_graph/export/loader.py $(STAMP)
	$(PY) -m cadl_graph.commands.build_loader --output=$@

# The same loader built and tested by Bazel (WORKSPACE, BUILD, bazel/): Debian's
# bazel-bootstrap works offline with the stand-ins in bazel/stubs. Skipped, saying so, where
# bazel is not installed (apt-get install bazel-bootstrap); the server is stopped afterwards so
# that no daemon outlives the command.
bazel-test: $(STAMP)
	@if command -v bazel >/dev/null; then \
	    CADL_GRAPH_PYTHON=$(CURDIR)/$(PY) bazel test //...; status=$$?; \
	    bazel shutdown; exit $$status; \
	else \
	    echo "bazel-test: bazel is not installed, skipping the Bazel build (apt-get install bazel-bootstrap)"; \
	fi
