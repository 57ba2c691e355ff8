# dojowatch - the two commands: `make run` and `make test`.
# Everything real is in meson.build; this file only installs what is missing,
# configures the build directories and starts things.

MESON      ?= meson
RELEASE    := build/release
TESTBUILD  := build/test
TSANBUILD  := build/tsan
CONFIG     ?= examples/dojopool.yaml
DATA       ?= ./data
LISTEN     ?=
# The shared data folder the tests read in place (scripts/find-shared.sh).
SHARED     := $(shell scripts/find-shared.sh)
SHAREDOPT  := $(if $(SHARED),-Dshared_dir=$(SHARED),)

.PHONY: all run build test unit integration tsan fuzz clean deps test-deps format bench-ingest bench-query bench-probes bench-alert-latency bench-notify bench-status

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(RELEASE)/build.ninja:
	$(MESON) setup $(RELEASE) --buildtype=release -Dwerror=false >/dev/null

build: deps $(RELEASE)/build.ninja
	ninja -C $(RELEASE) src/cli/dojowatch

run: build
	@scripts/run.sh $(RELEASE)/src/cli/dojowatch $(CONFIG) $(DATA) $(LISTEN)

$(TESTBUILD)/build.ninja:
	$(MESON) setup $(TESTBUILD) --buildtype=debug -Dwerror=true $(SHAREDOPT) \
		-Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all >/dev/null
	ln -sf $(TESTBUILD)/compile_commands.json compile_commands.json

test: test-deps $(TESTBUILD)/build.ninja
	ninja -C $(TESTBUILD)
	@scripts/run-tests.sh $(TESTBUILD)

# Only the unit or only the integration suite.
unit integration: test-deps $(TESTBUILD)/build.ninja
	ninja -C $(TESTBUILD)
	@scripts/run-tests.sh $(TESTBUILD) $@

$(TSANBUILD)/build.ninja:
	$(MESON) setup $(TSANBUILD) --buildtype=debug -Db_sanitize=thread $(SHAREDOPT) >/dev/null

# The threaded parts under ThreadSanitizer.
tsan: deps $(TSANBUILD)/build.ninja
	ninja -C $(TSANBUILD)
	@DW_SKIP_TSAN=1 scripts/run-tests.sh $(TSANBUILD) unit

# libFuzzer on every fuzz target for FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz: test-deps
	@scripts/fuzz-smoke.sh $(FUZZ_SECONDS)

# Side-by-side ingest benchmark against Prometheus and VictoriaMetrics.
bench-ingest: build
	bench/ingest/run.sh $(BENCH_ARGS)

# Side-by-side query latency (dashboard set, range and instant) against the same peers.
bench-query: build
	bench/query/run.sh $(BENCH_ARGS)

# Side-by-side synthetic probes (10,000 HTTP probes a minute) against blackbox_exporter driven by Prometheus.
bench-probes: build
	bench/probes/run.sh $(BENCH_ARGS)

# Side-by-side alert latency: remote write -> P0 webhook, 1,000 rules over 10,000 series, against Prometheus + Alertmanager.
bench-alert-latency: build
	bench/alert-latency/run.sh $(BENCH_ARGS)

# Side-by-side notification delivery: 10,000 alert groups to a webhook, a failing receiver, kill -9, against Alertmanager.
bench-notify: build
	bench/notify/run.sh $(BENCH_ARGS)

# Side-by-side status pages: wrk against dojowatch and nginx serving the same bytes (BENCH_SECONDS per URL, default 15).
bench-status: build
	bench/status/run.sh $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

clean:
	rm -rf build compile_commands.json
