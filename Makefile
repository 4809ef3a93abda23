# One command to set up and run the main job, one to run the tests.
PYTHON ?= python3
VENV ?= .venv
# The torch backend's tests need torch; 2.13.0 is a CPU build on the CI machines (leave empty
# to skip: make setup TORCH=). Elsewhere PyPI's Linux torch is a CUDA build of several GB.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup run test bench lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(if $(TORCH),$(BIN)/python -m pip install --quiet '$(TORCH)' || echo "zoo: $(TORCH) did not install; torch-backend tests will skip")
	touch $@

run: setup  ## train the default spec: an MLP on scikit-learn's bundled digits (no download)
	$(BIN)/zoo train specs/digits_mlp.yaml

# Test files run on this many worker processes (pytest-xdist; a file stays on one worker, so
# its module fixtures are built once). 2 halves the suite's time on the 2-core CI machines.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

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
	rm -rf $(VENV) runs build *.egg-info
