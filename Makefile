# The two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python


.PHONY: demo test test-compat test-drivers test-fast dist lint type check docs bench bench-quick bench-stampede clean

demo:            ## start a local lab of real servers and tour cachex on it
	bash scripts/bootstrap.sh test,bench
	$(PY) demo/tour.py

test:            ## the whole test suite against real servers (what CI runs)
	bash scripts/bootstrap.sh test
	CACHEX_TEST_VALKEY=require $(PY) -m pytest $(PYTEST_ARGS)
	bash scripts/compat.sh
	bash scripts/drivers.sh
	$(MAKE) dist

test-drivers:    ## oldest and newest redis-py 5-8 / valkey-py 6, +/- hiredis (part of `make test`)
	bash scripts/bootstrap.sh test
	bash scripts/drivers.sh

dist:            ## build sdist + wheel (no warnings), twine check, smoke-test both installed
	bash scripts/bootstrap.sh test
	bash scripts/dist.sh

test-compat:     ## oldest and newest Python x Django pairs (part of `make test`)
	bash scripts/bootstrap.sh test
	bash scripts/compat.sh

test-fast:       ## everything except Django's own suite
	bash scripts/bootstrap.sh test
	$(PY) -m pytest -m "not django_suite" $(PYTEST_ARGS)

lint:
	bash scripts/bootstrap.sh test,lint
	$(VENV)/bin/ruff check cachex tests demo benchmarks
	$(PY) scripts/unasync.py --check

type:
	bash scripts/bootstrap.sh test,lint
	$(VENV)/bin/mypy

check: lint type

docs:
	bash scripts/bootstrap.sh test,docs
	$(VENV)/bin/mkdocs build --strict

bench:           ## full benchmark run (several minutes)
	bash scripts/bootstrap.sh test,bench
	$(PY) -m benchmarks --full

bench-quick:     ## quick benchmark run (under a minute)
	bash scripts/bootstrap.sh test,bench
	$(PY) -m benchmarks --quick

bench-stampede:  ## 200 callers on one expiring key: recomputations and waits per mode
	bash scripts/bootstrap.sh test,bench
	$(PY) -m benchmarks.stampede

clean:
	rm -rf $(VENV) .venv-compat-* .venv-drivers .cache .pytest_cache .mypy_cache .ruff_cache site dist build
