# probe — the two set-up commands are `make demo` and `make test`; each installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch is installed first so that no dependency pulls a CUDA build; TORCH= skips it.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install proto proto-check serve demo test test-portability bench lint reproduce-check

$(VENV)/.installed: wire/pyproject.toml client/pyproject.toml models/pyproject.toml server/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH),$(PY) -m pip install -q "$(TORCH)")
	$(PY) -m pip install -q -e wire -e "client[dev,plot]" -e "models[hf]" -e server
	touch $@

install: $(VENV)/.installed

proto: install
	$(PY) proto/generate.py

proto-check: install
	$(PY) proto/generate.py --check

serve: install
	$(VENV)/bin/probe-server serve

demo: install
	$(PY) -m probe_server.demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The science tests again under torch CPU kernels other than the machine's own (the scalar ones, and AVX2 where
# the CPU has AVX-512): a verdict that depends on the vector kernels fails here, not on a user's machine.
test-portability: install
	for cap in default $$(grep -qw avx512f /proc/cpuinfo && echo avx2); do \
	  ATEN_CPU_CAPABILITY=$$cap $(PY) -c "import torch; print('torch CPU kernels:', torch.backends.cpu.get_cpu_capability())" \
	  && ATEN_CPU_CAPABILITY=$$cap $(PY) -m pytest tests/science $(PYTEST_ARGS) || exit 1; \
	done

# The small-scale paper reproductions through a real server (1 to 5 minutes each on 2 cores, one job slot per core; about 30 minutes in all).
reproduce-check: install
	$(PY) -m pytest -m slow -s $(PYTEST_ARGS)

# PyHessian is the Hessian benchmark's baseline only (the packages never import it).
bench: install
	$(PY) -m pip install -q --no-deps "pyhessian==0.1"
	$(PY) bench/run.py
	$(PY) bench/hessian.py
	$(PY) bench/memory.py
	$(PY) bench/replicas.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_proto_lint.py  # buf.yaml's STANDARD rules, without buf
