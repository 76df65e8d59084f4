# tikv-ear — see README.md. Every target works on a fresh clone.
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin/tikv-ear
GOBIN     := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: build test test-real demo bench lint tools

build:
	$(GO) build -o $(BIN) .

# The test command CI runs (.ci/run); -count=1 so the real parts (OpenSSH sshd, local-kms,
# Chromium, systemd-analyze) run every time instead of a cached result. They must be installed:
# the tests fail, never skip, without them.
test:
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

# Tests against the real upstream servers (pd-server, OpenBao): files with the build tag
# `realparts`, test names starting TestReal (internal/realparts checks both), only in the packages
# that have such files so nothing else runs twice. Binaries come from TIKV_EAR_REALPARTS=DIR, filled
# by ../shared/realparts/install DIR (README.md "Real parts"); without them the tests fail naming
# that step, never skip.
REAL_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build realparts' .)))
test-real:
	$(GO) test -tags realparts -race -count=1 -timeout 40m -run '^TestReal' $(addprefix ./,$(REAL_PKGS:./%=%))

# The whole job on an embedded simulated cluster.
demo: build
	./$(BIN) demo

# Issue 17's measurements in one run (docs/performance.md), about 15 minutes, not part of `make test`:
# the sim's clock at 300 stores, the rollout side by side with the TiUP reload sequence at 9/30/100
# stores (fresh sim per run), status/plan/apply at 300 stores with 20 ms SSH latency, the on-disk
# proof, the status fan-out and the dashboard frame. With TIKV_EAR_REALPARTS set, the benchmarks
# under the build tag `realparts` (real pd-server) run too. `nice -n 0` is deliberate: the machine
# is shared, and the load average is printed beside the figures.
BENCH_PKGS      = ./sim ./steps ./bench/clibench ./cluster/tikvdisk ./cluster/gather ./ui
REAL_BENCH_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^//go:build realparts' . | xargs grep -l '^func Benchmark' 2>/dev/null)))
bench:
	nice -n 0 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m -p 1 \
		$(if $(TIKV_EAR_REALPARTS),-tags realparts) $(BENCH_PKGS) \
		$(if $(TIKV_EAR_REALPARTS),$(addprefix ./,$(REAL_BENCH_PKGS:./%=%))) | tee bench.txt
	@command -v benchstat >/dev/null && benchstat bench.txt || true

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@2026.2.2
	staticcheck $(PKGS)

# Tools the tests and benchmarks use.
tools:
	$(GO) install github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6
	$(GO) install golang.org/x/perf/cmd/benchstat@latest
