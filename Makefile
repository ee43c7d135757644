# medplum: build, test, demo. See README.md.
GO      ?= go
BIN     ?= bin/medplum
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/medplumcli/medplum/commands/version.Version=$(VERSION) \
           -X github.com/medplumcli/medplum/commands/version.Commit=$(COMMIT) \
           -X github.com/medplumcli/medplum/commands/version.Date=$(DATE)

.PHONY: all build sandbox official-cli test test-keyring vet fmt-check demo bench fuzz

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

sandbox:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/medplum-sandbox ./cmd/medplum-sandbox

# The official @medplum/cli pinned in testdata/official-cli, which the
# conformance test in cmd/medplum-sandbox runs (it is skipped without node).
official-cli: testdata/official-cli/node_modules/.package-lock.json
testdata/official-cli/node_modules/.package-lock.json: testdata/official-cli/package-lock.json
	npm ci --prefix testdata/official-cli --no-audit --no-fund

# make test installs the official CLI first wherever npm exists.
OFFICIAL_CLI := $(if $(shell command -v npm 2>/dev/null),official-cli)

# A short tour against the in-memory sandbox server on a free loopback port
# (.ci/demo); it stops the sandbox when it ends, even on Ctrl-C.
demo: build sandbox
	@bash .ci/demo

vet:
	$(GO) vet ./...

# Every Go file, third_party/'s patched copies too (gojq's generated
# builtin.go is gofmt'd here; its PATCH.md says so).
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# make test runs every test with the race detector, the binary the command
# tests run included (commands/clitest builds it with -race too): about 1.1x
# the time of a plain run with a warm build cache, 1.5x on a fresh machine.
# -race needs cgo: a C compiler and libc headers (gcc, libc6-dev on Debian).
# `make test RACE=` runs without it.
RACE ?= -race
test: fmt-check vet $(OFFICIAL_CLI)
	$(GO) test -count=1 $(RACE) ./...
	@if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then \
		$(MAKE) --no-print-directory test-keyring; \
	else echo "make test: real keyring tests skipped (install dbus and gnome-keyring to run them)"; fi
	@$(MAKE) --no-print-directory fuzz

# The black-box command tests written against clitest.NewTarget, run
# against a real Medplum named by REAL_* variables, or by REAL_ENV_DIR (a
# directory with the real.env, super.env and scale.env that
# ../shared/real-medplum writes); they clean up what they create. make test
# and CI run the same tests against medplumtest and never this target.
# See DESIGN.md ("make test-real") for the variables and how to add a test.
.PHONY: test-real
test-real:
	@GO='$(GO)' RACE='$(RACE)' bash .ci/test-real

# Real Secret Service tests (build tag keyring, tests named TestRealKeyring*):
# a private session bus and a gnome-keyring unlocked with a throwaway password
# in a fresh HOME; both daemons exit with the bus. Go's caches stay where they
# are, so the fresh HOME costs no rebuild.
KEYRING_PKGS ?= ./...
test-keyring:
	@home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && \
	env -u XDG_RUNTIME_DIR GOCACHE="$$($(GO) env GOCACHE)" GOMODCACHE="$$($(GO) env GOMODCACHE)" \
		GOPATH="$$($(GO) env GOPATH)" HOME="$$home" XDG_DATA_HOME="$$home/.local/share" \
		dbus-run-session -- sh -c 'echo test-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
		$(GO) test -count=1 -tags keyring -run RealKeyring $(KEYRING_PKGS)'

# Runs every Fuzz target in the repository for FUZZTIME each (go test -fuzz
# takes one target in one package at a time). Seed corpora live in each
# package's testdata/fuzz/ and also run as plain tests. Go 1.26's fuzz
# coordinator can report its own -fuzztime deadline as a failure ("context
# deadline exceeded", no failing input) on a loaded machine
# (go.dev/issue/75804, fixed in Go 1.27); that one is ignored, a failing
# input never is.
FUZZTIME ?= 5s
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz $$t ($$(dirname $$f), $(FUZZTIME))"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f) 2>&1) || \
	    case "$$out" in \
	      *"Failing input written"*) echo "$$out"; exit 1 ;; \
	      *"--- FAIL: $$t "*"context deadline exceeded"*) echo "  (ignored: -fuzztime ran out under load, go.dev/issue/75804)" ;; \
	      *) echo "$$out"; exit 1 ;; \
	    esac; \
	  done; \
	done

# Benchmarks (docs/benchmarks.md): start-up, get --all and bulk invite
# against a raw net/http loop, bulk invite throughput against medplumtest's
# realistic invite model (about 20 invites/s, so BULK_BENCH_ROWS rows take
# ~15s per concurrency level), peak RSS for 10k and 100k-row CSVs, and 20
# bot deploys by pattern against a loop of single deploys, members list --all
# and apply export over 10k and 100k members, members review, export
# downloads, bulk import of 50,000 Patients against a raw loop posting the
# same Bundles and its peak RSS for a 100 MB and a 1 GB NDJSON input (about
# 10 minutes of these), as one table (.ci/bench; raw output in
# bin/bench.txt). About 40 minutes.
# bench-micro runs every other benchmark (ns/op, allocations).
BULK_BENCH_ROWS ?= 300
bench:
	@GO='$(GO)' BULK_BENCH_ROWS=$(BULK_BENCH_ROWS) bash .ci/bench

.PHONY: bench-micro
bench-micro:
	$(GO) test -run '^$$' -bench . -skip 'BulkInvite|InviteCSVPeakRSS|Startup|GetAll|InviteOverhead|InviteOverheadAtCost|InviteOverheadFullCost|BotDeploy|MembersListAll|MembersReview|ExportDownload|ApplyExport|BulkImport' ./...

# Release: the targets of .goreleaser.yaml (release_test.go keeps the two in
# sync). `make cross` builds the binary for each with plain `go build` and
# vets every package (tests included) for it, so a platform-specific break
# (keyring backends, file locks) shows up on Linux. `make release-check`
# adds `goreleaser check` and a snapshot build when goreleaser is installed.
.PHONY: cross release-check docs
RELEASE_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
cross:
	@for t in $(RELEASE_TARGETS); do \
	  echo "cross-compile $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o /dev/null . && \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) vet ./... || { echo "cross-compile $$t failed"; exit 1; }; \
	done

release-check: cross
	@GO='$(GO)' bash .ci/release-check

# The command reference in docs/commands, from the real command tree
# (cmd/gendocs; a test fails when it is stale).
docs:
	$(GO) run ./cmd/gendocs -markdown docs/commands
