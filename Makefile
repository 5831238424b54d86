# liborch's front door. `make up` installs what is missing, builds the server and runs a
# single-machine cluster in the foreground; `make test` builds and runs every suite.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2
SUITES ?= unit conformance integration e2e python
# ccache keys relative to the checkout, so clones in other folders (CI) reuse the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
MESON_TEST = meson test --num-processes $(JOBS) --print-errorlogs $(addprefix --suite ,$(SUITES))

.PHONY: deps build up test test-asan bench clean

# Where `make up` keeps the cluster's state (store, pods, logs, kubeconfig).
DATA_DIR ?= $(CURDIR)/.cache/orch-data

deps:
	@scripts/install-deps.sh
	@scripts/fetch-kubectl-1.20.sh .cache/kubectl-1.20 >/dev/null || \
	  echo "kubectl 1.20 could not be unpacked; its end-to-end tests will be skipped"

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD) -j $(JOBS)

# Only what the cluster needs: the server and the kuard image.
up: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD) -j $(JOBS) orch-server orch-agent orchctl kuard
	$(BUILD)/apps/orch-server/orch-server --data-dir $(DATA_DIR) $(ARGS)

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
	$(BUILD)/benchmarks/scheduler/scheduler_bench
	$(BUILD)/benchmarks/proxy/proxy_bench
	$(BUILD)/benchmarks/cluster/pod_startup
	$(BUILD)/benchmarks/harness/harness_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
