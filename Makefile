# medplum: build, test, demo. See README.md.
GO      ?= go
BIN     ?= bin/medplum
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X github.com/medplumcli/medplum/commands/version.Version=$(VERSION) \
           -X github.com/medplumcli/medplum/commands/version.Commit=$(COMMIT) \
           -X github.com/medplumcli/medplum/commands/version.Date=$(DATE)

.PHONY: all build sandbox test vet fmt-check demo bench

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

sandbox:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/medplum-sandbox ./cmd/medplum-sandbox

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: fmt-check vet
	$(GO) test -count=1 ./...
