# probe — the two set-up commands are `make demo` and `make test`; each installs what it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch is installed first so that no dependency pulls a CUDA build; TORCH= skips it.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install proto proto-check serve demo test test-portability bench lint reproduce-check fuzz gpu-check

$(VENV)/.installed: wire/pyproject.toml client/pyproject.toml models/pyproject.toml server/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH),$(PY) -m pip install -q "$(TORCH)")
	$(PY) -m pip install -q -e wire -e "client[dev,plot]" -e "models[hf]" -e "server[ray]"
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

# The Ray tests run again in a network namespace with only loopback (Ray binds the machine's interface address
# even when told 127.0.0.1); elsewhere they are skipped. About a minute on 2 cores.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)
	unshare --net sh -c 'ip link set lo up && exec $(PY) -m pytest -p no:cacheprovider tests/ray $(PYTEST_ARGS)'

# The science tests again under torch CPU kernels other than the machine's own (the scalar ones, and AVX2 where
# the CPU has AVX-512), each on one torch thread: a verdict that depends on the vector kernels or the thread count
# fails here, not on a user's machine. The runs go side by side, one per core (the small models use a second
# thread poorly: 99 s side by side against 128 s one after the other, measured on 2 cores).
test-portability: install
	@logs=$$(mktemp -d); caps="default $$(grep -qw avx512f /proc/cpuinfo && echo avx2)"; pids=""; \
	for cap in $$caps; do \
	  (export ATEN_CPU_CAPABILITY=$$cap OMP_NUM_THREADS=1; \
	   $(PY) -c "import torch; print('torch CPU kernels:', torch.backends.cpu.get_cpu_capability(), '(1 thread)')" \
	   && $(PY) -m pytest tests/science -p no:cacheprovider $(PYTEST_ARGS)) > $$logs/$$cap.log 2>&1 & pids="$$pids $$!"; \
	done; status=0; for pid in $$pids; do wait $$pid || status=1; done; \
	for cap in $$caps; do cat $$logs/$$cap.log; done; rm -rf $$logs; exit $$status

# The small-scale paper reproductions through a real server, all started at once (their jobs share one queue,
# one job slot per core; about 13 minutes on 2 cores); how long each takes alone is bench/reproductions.py's.
reproduce-check: install
	$(PY) -m pytest -m slow -s $(PYTEST_ARGS)

# The fuzz of every RPC at length: 5,000 cases per RPC against a real server (make test runs 200; about 15 minutes
# on 2 cores). FUZZ_SEED=N draws another campaign.
fuzz: install
	FUZZ_CASES=5000 $(PY) -m pytest -s -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

# PyHessian is the Hessian benchmark's baseline only (the packages never import it).
bench: install
	$(PY) -m pip install -q --no-deps "pyhessian==0.1"
	$(PY) bench/run.py
	$(PY) bench/activations.py
	$(PY) bench/hessian.py
	$(PY) bench/memory.py
	$(PY) bench/replicas.py
	$(PY) bench/load.py
	$(PY) bench/reproductions.py
	unshare --net sh -c 'ip link set lo up && exec $(PY) bench/ray_sweep.py'
	$(PY) bench/gpu_check.py --rehearse

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_proto_lint.py  # buf.yaml's STANDARD rules, without buf

# The GPU path, on a machine with a CUDA GPU (a few minutes): a venv of its own with PyPI's CUDA build of torch and
# onnxruntime-gpu in place of onnxruntime; GPU_WHEELS=DIR installs from wheels there instead (no network). make bench
# rehearses the same checks on the CPU (bench/gpu_check.py --rehearse), so the script is tested where no GPU is.
GPU_VENV := .venv-gpu
GPU_PIP = $(if $(GPU_WHEELS),--no-index --find-links $(GPU_WHEELS))
gpu-check:
	python3 -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install -q $(GPU_PIP) torch -e wire -e "client[dev]" -e models -e server
	$(GPU_VENV)/bin/python -m pip uninstall -q -y onnxruntime
	$(GPU_VENV)/bin/python -m pip install -q $(GPU_PIP) onnxruntime-gpu
	$(GPU_VENV)/bin/python bench/gpu_check.py
