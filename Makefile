# The two commands of the README:
#   make demo   sets everything up (venv, local Kafka/MinIO/Elasticsearch) and runs the demo
#   make test   sets everything up and runs the whole test suite (unit + integration)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.shardline-installed
FOREST := $(VENV)/.shardline-forest

.PHONY: demo test unit faults compare soak fuzz lint forest stack-down clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

# once per environment (and again after an install): an existing .venv gets it too. Only the
# demo (the set-up command) builds it: the tests give the same scores with either build, and
# a fresh clone's test run does not spend minutes compiling
$(FOREST): $(STAMP)
	@$(MAKE) --no-print-directory forest
	@touch $(FOREST)

# RANDOM_CUT_FOREST's model (krcf) compiled from its published source for x86-64-v3 (AVX2),
# where this machine has those instructions and cargo: the same code, so the same scores
# (tests/unit/pipelines/sql/operators/test_rcf_pinned.py), at about 1.4x the speed of the PyPI
# wheel, which is compiled for every x86-64 CPU (docs/sql.md). Otherwise, or if the build
# fails, the wheel stays. pip caches the built wheel: later installs reuse it.
FOREST_CPU := avx avx2 bmi1 bmi2 abm f16c fma movbe xsave
forest:
	@missing=""; for flag in $(FOREST_CPU); do \
		grep -qw $$flag /proc/cpuinfo 2>/dev/null || missing="$$missing $$flag"; \
	done; \
	if ! command -v cargo >/dev/null 2>&1; then \
		echo "krcf: the PyPI wheel (no cargo to compile it for this CPU)"; \
	elif [ -n "$$missing" ]; then \
		echo "krcf: the PyPI wheel (the CPU lacks$$missing)"; \
	else \
		version=$$($(BIN)/python -c "from importlib.metadata import version; print(version('krcf'))"); \
		echo "krcf $$version: compiling it for x86-64-v3 (minutes the first time, then cached)"; \
		rm -f $(VENV)/.krcf-x86-64-v3; \
		if RUSTFLAGS="-C target-cpu=x86-64-v3" $(BIN)/python -m pip install --quiet --no-deps \
				--force-reinstall --no-binary krcf "krcf==$$version"; then \
			touch $(VENV)/.krcf-x86-64-v3; \
		else \
			echo "krcf: the build failed, the PyPI wheel stays"; \
		fi; \
	fi

demo: $(FOREST)
	$(BIN)/shardline demo

# Unit tests on both cores (offline, independent); then the integration tests one at a time
# (they share the local stack), and beside them the 5-minute soak, which runs on servers of
# its own (its output follows theirs). The stack is started first, so both sessions reuse it.
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 tests/unit tests/soak/test_schedule.py
	$(BIN)/shardline stack up
	@status=0; \
	$(BIN)/python -m pytest -p no:cacheprovider tests/soak/test_soak.py > .soak-ci.log 2>&1 & \
	soak=$$!; \
	$(BIN)/python -m pytest --durations=25 tests/integration || status=$$?; \
	wait $$soak || status=$$?; \
	echo "=== the CI soak (tests/soak/test_soak.py) ==="; cat .soak-ci.log; \
	exit $$status

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/unit

faults: $(STAMP)
	SHARDLINE_FAULTS_REPORT=faults-report.jsonl $(BIN)/python -m pytest -m faults -s tests/integration
	$(BIN)/python -m tests.integration.fault_report faults-report.jsonl

# Shardline beside its peers (Quix Streams, a plain Faust agent): benchmarks/compare.py's
# --smoke run on workloads 1-3, every system's results checked. A comparison, not a test of
# Shardline's behaviour, so `make test` (and CI) leaves it out.
compare: $(STAMP)
	$(BIN)/python -m pytest tests/compare

# The chaos soak (docs/faults.md): SOAK_MINUTES (5), SOAK_SEED (1), SOAK_BROKERS (1 or 3).
soak: $(STAMP)
	$(BIN)/python -m tests.soak --minutes $(or $(SOAK_MINUTES),5) --seed $(or $(SOAK_SEED),1) \
		--brokers $(or $(SOAK_BROKERS),1) $(if $(SOAK_REPORT),--report $(SOAK_REPORT))

# Fuzz the codec, SQL front end, prefixes, date patterns and config readers (FUZZ_MINUTES).
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --minutes $(or $(FUZZ_MINUTES),5)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

stack-down: $(STAMP)
	$(BIN)/shardline stack down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
