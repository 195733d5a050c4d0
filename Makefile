# Two entry points for a fresh machine: `make run` (the app) and `make test` (the whole suite).
# Both create .venv if missing and install the pinned requirements; `make test` also installs
# Debian's chromium for the real-browser test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8501

.PHONY: run test chromium bench clean-venv

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned requirements into $(VENV) (log: $(VENV)/pip.log)"
	@$(PY) -m pip install --quiet --no-warn-script-location -r requirements-dev.txt > $(VENV)/pip.log 2>&1 || \
	  { grep -v "is ignored: it is neither a file nor a directory" $(VENV)/pip.log; exit 1; }
	@$(PY) -m pip install --quiet --no-warn-script-location --no-deps -r requirements-nodeps.txt >> $(VENV)/pip.log 2>&1 || \
	  { tail -20 $(VENV)/pip.log; exit 1; }
	@# the project itself, editable, so scripts and benchmarks import it without path tricks
	@$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . >> $(VENV)/pip.log 2>&1 || { tail -20 $(VENV)/pip.log; exit 1; }
	$(PY) -c "import torch, streamlit, executorch, faiss, kan; assert torch.__version__.startswith('2.13.0')"
	@# compile the fused numba kernels into their on-disk cache once (about a minute), not on first use
	@$(PY) -m sharekan_core.runtime.kernel_warmup || echo "warning: fused kernels not precompiled; they compile on first use"
	@touch $(STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

run: $(STAMP)
	$(PY) -m streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: $(STAMP) chromium
	$(PY) -m pytest -q -n 2 --dist loadfile tests

bench: $(STAMP)
	$(PY) bench/codebook.py
	$(PY) bench/runtime.py
	$(PY) bench/detector_speed.py

clean-venv:
	rm -rf $(VENV)
