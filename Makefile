# One command to set up and run the main job, one to run the tests.
PYTHON ?= python3
VENV ?= .venv
# The torch backend's tests need torch; 2.13.0 is a CPU build on the CI machines (leave empty
# to skip: make setup TORCH=). Elsewhere PyPI's Linux torch is a CUDA build of several GB.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup run test test-hub bench lint docs clean

# packages/zoo-hub: KerasHub's vision transformers and CNNs, a plugin package of its own
# (installed editable beside zoo, so its tests and lint run with zoo's)
HUB := packages/zoo-hub

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(HUB)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e $(HUB)
	$(if $(TORCH),$(BIN)/python -m pip install --quiet '$(TORCH)' || echo "zoo: $(TORCH) did not install; torch-backend tests will skip")
	touch $@

run: setup  ## train the default spec: an MLP on scikit-learn's bundled digits (no download)
	$(BIN)/zoo train specs/digits_mlp.yaml

# Test files run on this many worker processes (pytest-xdist; a file stays on one worker, so
# its module fixtures are built once). 2 halves the suite's time on the 2-core CI machines.
# --no-loadscope-reorder keeps tests/conftest.py's order: the heaviest files first.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests $(HUB)/tests

# zoo-hub's tests alone (with its own pytest settings); -m long adds every variant
test-hub: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(HUB)/tests

# ruff (lint and format), mypy over zoo/, the built-in plugins and zoo-hub, import-linter's
# layers and no-cycle contracts (pyproject.toml; zoo-hub's in its own). mypy finds the
# built-ins, imported as zoo_builtins, and zoo_hub through links in build/mypy. ruff reads
# zoo-hub's own settings for its files.
LINTED := zoo plugins tests benchmarks tools $(HUB)

lint: setup
	@mkdir -p build/mypy && ln -sfn ../../plugins build/mypy/zoo_builtins
	@ln -sfn ../../$(HUB)/zoo_hub build/mypy/zoo_hub
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy -p zoo -p zoo_builtins -p zoo_hub
	$(BIN)/lint-imports
	cd $(HUB) && $(abspath $(BIN))/lint-imports
	$(BIN)/python tools/gen_reference.py --check

# The documentation site (docs/): the generated reference pages, then a strict build (a
# broken link or anchor fails) into site/.
docs: setup
	$(BIN)/python tools/gen_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python benchmarks/bench_cli_startup.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_runner_overhead.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_backbones.py
	$(BIN)/python benchmarks/bench_augmentation.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_backends.py

clean:
	rm -rf $(VENV) runs build site *.egg-info
