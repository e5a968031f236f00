# The README's two commands: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
PROTOS := $(wildcard protos/leadrelay/v1/*.proto)
GEN    := leadrelay/v1/.generated

.PHONY: run test check install proto bench clean browser

run: proto
	$(VENV)/bin/leadrelay up

test: proto browser
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# One generation command: protos/leadrelay/v1/x.proto -> leadrelay/v1/x_pb2.py (+ grpc, + type stubs).
proto: $(GEN)

$(GEN): $(STAMP) $(PROTOS)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -Iprotos \
	  --python_out=. --grpc_python_out=. --mypy_out=quiet:. --mypy_grpc_out=quiet:. $(PROTOS)
	touch $@

# The browser tests drive Debian's Chromium (no browser downloads here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }

# What CI checks before the tests: the formatter's style, the linter, and the types (mypy reads the
# generated stubs, hence proto; what is strict and what is not: [tool.mypy] in pyproject.toml).
check: install proto
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: proto
	$(PY) -m bench

clean:
	rm -rf $(VENV) .leadrelay leadrelay/v1/*_pb2* $(GEN)
