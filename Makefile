# liborch's front door. `make test` installs what is missing, builds, and runs every suite.
# `make up` (the single-machine cluster) arrives with the executables issue.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2
SUITES ?= unit conformance integration e2e
# ccache keys relative to the checkout, so clones in other folders (CI) reuse the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
MESON_TEST = meson test --num-processes $(JOBS) --print-errorlogs $(addprefix --suite ,$(SUITES))

.PHONY: deps build test test-asan bench clean

deps:
	@scripts/install-deps.sh
	@scripts/fetch-kubectl-1.20.sh .cache/kubectl-1.20 >/dev/null || \
	  echo "kubectl 1.20 could not be unpacked; its end-to-end tests will be skipped"

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD) -j $(JOBS)

test: build
	@$(MESON_TEST) -C $(BUILD) > $(BUILD)/test-output.txt 2>&1; status=$$?; \
	  grep -E '^ *[0-9]+/[0-9]+ ' $(BUILD)/test-output.txt; \
	  [ $$status -eq 0 ] || sed -n '/^Summary of Failures/,$$p;/stderr:/,/^---/p' $(BUILD)/test-output.txt | head -200; \
	  scripts/test-summary.py $(BUILD) tests && [ $$status -eq 0 ]

# Unit and conformance suites under AddressSanitizer + UndefinedBehaviorSanitizer.
$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# `meson test` builds only what the selected suites need (not the executables or benchmarks).
test-asan: deps $(ASAN_BUILD)/build.ninja
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
	  meson test --num-processes $(JOBS) --print-errorlogs --suite unit --suite conformance -C $(ASAN_BUILD) > $(ASAN_BUILD)/test-output.txt 2>&1; status=$$?; \
	  grep -E '^ *[0-9]+/[0-9]+ ' $(ASAN_BUILD)/test-output.txt; \
	  [ $$status -eq 0 ] || sed -n '/^Summary of Failures/,$$p' $(ASAN_BUILD)/test-output.txt | head -200; \
	  scripts/test-summary.py $(ASAN_BUILD) asan-tests && [ $$status -eq 0 ]

bench: build
	$(BUILD)/benchmarks/store/store_bench
	$(BUILD)/benchmarks/apiserver/api_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
