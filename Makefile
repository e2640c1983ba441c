# Thin wrapper around CMake. The two commands a newcomer needs:
#   make demo   builds vlstore and runs the demo on built-in data
#   make test   builds everything and runs the whole test suite
# Both install missing Debian packages first (as root), or say what to install.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan test-tsan bench install clean

all: build

deps-build:
	@scripts/deps.sh build

$(BUILD)/CMakeCache.txt: | deps-build
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/vlstore demo

test: deps-build
	@scripts/deps.sh test
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and ThreadSanitizer.
test-asan: deps-build
	@scripts/deps.sh test
	cmake -S . -B build-asan -DVLS_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DVLS_WERROR=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure --no-tests=error -j $(JOBS)

test-tsan: deps-build
	@scripts/deps.sh test
	cmake -S . -B build-tsan -DVLS_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure --no-tests=error -j $(JOBS) -L concurrency

bench: deps-build
	@scripts/deps.sh bench
	cmake -S . -B $(BUILD) -DVLS_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	$(BUILD)/bench/vls_bench $(BENCH_ARGS)

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD) build-asan build-tsan
