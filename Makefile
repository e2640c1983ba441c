# Thin wrapper around CMake. The two commands a newcomer needs:
#   make demo   builds the vlstore command only and runs the demo on built-in data
#   make test   builds everything and runs the whole test suite
# Both install missing Debian packages first (as root), or say what to install.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan test-tsan test-long test-long-asan test-valgrind coverage fuzz bench bench-build bench-publish bench-bigdata install clean python

all: build

deps-build:
	@scripts/deps.sh build

$(BUILD)/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Only the CLI (and the library objects it links): not the tests, fuzz replays or examples.
demo: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target vlstore_cli
	$(BUILD)/vlstore demo

# The suite includes a quick benchmark run (tests/test_bench_quick.sh), so it builds the
# benchmark too and installs its packages.
test: deps-build
	@scripts/deps.sh test bench
	cmake -S . -B $(BUILD) -DVLS_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

# The Python package in a virtual environment: made from Debian's /usr/bin/python3 with
# --system-site-packages, because the extension builds against Debian's python3-dev and numpy
# (a pyenv or conda python first on PATH cannot see them, and has no bdist_wheel). Nothing is
# downloaded. VENV picks the directory.
VENV ?= $(BUILD)/venv
python: build
	@scripts/deps.sh python
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	cd python && VLSTORE_BUILD_DIR=$(abspath $(BUILD)) $(abspath $(VENV))/bin/pip install \
	    --quiet --no-build-isolation --no-deps --no-index .
	$(VENV)/bin/python -c "import vlstore; print('vlstore', vlstore.__version__, 'installed in $(VENV)')"
	@echo "Activate it with:  . $(VENV)/bin/activate   (or run $(VENV)/bin/python directly)"

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and ThreadSanitizer.
test-asan: deps-build
	@scripts/deps.sh test bench
	cmake -S . -B build-asan -DVLS_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DVLS_WERROR=ON \
	    -DVLS_BUILD_BENCH=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure --no-tests=error -j $(JOBS)

test-tsan: deps-build
	@scripts/deps.sh test
	cmake -S . -B build-tsan -DVLS_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure --no-tests=error -j $(JOBS) -L concurrency

# The long runs behind docs/RELIABILITY.md's tables (VLS_TEST_LONG=1; about 40 min on 2 busy
# cores; sizes in scripts/test-long.sh). Logs go to $(BUILD)/reliability-logs/; to publish them
# beside the document: make test-long LONG_LOGS=docs/reliability-logs
LONG_LOGS ?= $(BUILD)/reliability-logs
test-long: build
	scripts/test-long.sh $(BUILD) $(LONG_LOGS)

# The same long runs on the AddressSanitizer + UndefinedBehaviorSanitizer build (about 2x the
# CPU time). Logs in build-asan/reliability-logs/; to publish:
# make test-long-asan LONG_ASAN_LOGS=docs/reliability-logs/asan
LONG_ASAN_LOGS ?= build-asan/reliability-logs
test-long-asan: deps-build
	@scripts/deps.sh test
	cmake -S . -B build-asan -DVLS_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DVLS_WERROR=ON \
	    -DVLS_BUILD_BENCH=ON
	cmake --build build-asan -j $(JOBS)
	scripts/test-long.sh build-asan $(LONG_ASAN_LOGS)

# The whole suite under valgrind memcheck (slow: run on demand; see scripts/valgrind.sh).
test-valgrind: deps-build
	@scripts/deps.sh test coverage
	scripts/valgrind.sh build-valgrind

# Line and branch coverage of the library (src/) by the whole suite, with gcov and lcov: a
# table per file on stdout, the HTML report in build-cov/coverage/index.html. test_python is
# left out: its extension module is built outside CMake, without the gcov runtime.
COVBUILD ?= build-cov
coverage: deps-build
	@scripts/deps.sh test coverage
	cmake -S . -B $(COVBUILD) -DVLS_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(COVBUILD) -j $(JOBS)
	lcov --quiet --zerocounters --directory $(COVBUILD)
	cd $(COVBUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS) -E '^test_python$$'
	lcov --quiet --rc lcov_branch_coverage=1 --capture --directory $(COVBUILD) \
	    --output-file $(COVBUILD)/all.info
	lcov --quiet --rc lcov_branch_coverage=1 --extract $(COVBUILD)/all.info '$(CURDIR)/src/*' \
	    --output-file $(COVBUILD)/coverage.info
	lcov --rc lcov_branch_coverage=1 --list $(COVBUILD)/coverage.info
	genhtml --quiet --branch-coverage --output-directory $(COVBUILD)/coverage $(COVBUILD)/coverage.info
	@echo "HTML report: $(COVBUILD)/coverage/index.html"

# libFuzzer (clang): builds fuzz/fuzz_{frame,xyz,open} and runs each for FUZZ_SECONDS on one
# core, starting from the committed corpus; new inputs go to build-fuzz/corpus/<target>/,
# crashes to build-fuzz/crash-*. Minimise before committing inputs (see fuzz/README.md).
FUZZ_SECONDS ?= 60
fuzz: deps-build
	@scripts/deps.sh fuzz
	CC=clang cmake -S . -B build-fuzz -DVLS_BUILD_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-fuzz -j $(JOBS) --target fuzz_frame fuzz_xyz fuzz_open
	for t in frame xyz open; do \
	  mkdir -p build-fuzz/corpus/$$t && \
	  VLS_TEST_TMP=$(CURDIR)/build-fuzz build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -artifact_prefix=build-fuzz/ build-fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

# `make bench` writes its results into a new directory under $TMPDIR or /tmp (printed), or
# into BENCH_ARGS="--out DIR"; never into the source tree. `make bench-publish` is the one
# way to refresh the committed bench/results.{md,dat,png} and README's table (copied from
# results.md by bench/readme-table.sh).
bench-build: deps-build
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DVLS_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

bench: bench-build
	$(BUILD)/bench/vls_bench $(BENCH_ARGS)

bench-publish: bench-build
	$(BUILD)/bench/vls_bench $(BENCH_ARGS) --out bench
	bench/readme-table.sh

# Bigger than memory (docs/BENCH.md, "Bigger than memory"): every engine in a cgroup with a
# memory limit and throttled reads on a loop device; root and cgroup v1 needed (it says so
# and stops otherwise). Table and plot go to BIGDATA_OUT; BIGDATA_ARGS e.g. --profile default.
BIGDATA_OUT ?= $(BUILD)/bigdata
bench-bigdata: deps-build
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DVLS_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS) --target vls_bigdata
	bench/bigdata/run.sh --out $(BIGDATA_OUT) --bin $(BUILD)/bench/bigdata/vls_bigdata $(BIGDATA_ARGS)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD) build-asan build-tsan build-valgrind build-cov build-fuzz

# import-xyz and convert speed beside ase.io.read + ase.db (bench/bench_import.py);
# IMPORT_MB=1024 for the 1 GB data set of issue 13. Output: the table on stdout only.
IMPORT_MB ?= 64
.PHONY: bench-import
bench-import: build
	@scripts/deps.sh test
	cd python && VLSTORE_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 setup.py -q build \
	  --build-base $(abspath $(BUILD))/py-bench/build --build-lib $(abspath $(BUILD))/py-bench/lib
	PYTHONPATH=$(abspath $(BUILD))/py-bench/lib /usr/bin/python3 bench/bench_import.py \
	  --vlstore $(abspath $(BUILD))/vlstore --mb $(IMPORT_MB)
