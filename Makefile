# Targets users and CI need; nothing else. Only Go is required.
GO ?= go
BIN := bin/groupsync
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The platforms groupsync is released for, and checked on in CI.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: build test demo lint cross dist bench fuzz

build:
	$(GO) build -ldflags "-X groupsync/cli.Version=$(VERSION)" -o $(BIN) .

test:
	$(GO) mod download
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m ./...

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Build, vet and staticcheck every platform. staticcheck is built once for
# this machine (go tool -n), then pointed at each GOOS/GOARCH.
cross:
	@set -e; sc=$$($(GO) tool -n staticcheck); for p in $(PLATFORMS); do \
		echo "cross: $$p"; \
		export GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0; \
		$(GO) build ./...; $(GO) vet ./...; $$sc ./...; \
	done

# Release archives and SHA256SUMS in dist/, stamped with VERSION.
dist:
	$(GO) run ./internal/dist -version $(VERSION) -out dist -targets $(shell echo $(PLATFORMS) | tr ' ' ,) \
		-date $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

demo: build
	./scripts/demo.sh $(BIN)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./manifest .

# Each target for FUZZTIME (30s); crashers land in testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseCSV -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzParseYAML -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzParseXLSX -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzPlainNumber -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzObject -fuzztime $(FUZZTIME) ./internal/flatjson
	$(GO) test -run '^$$' -fuzz FuzzCanonical -fuzztime $(FUZZTIME) ./internal/canonjson
	$(GO) test -run '^$$' -fuzz FuzzQuote -fuzztime $(FUZZTIME) ./internal/canonjson
	$(GO) test -run '^$$' -fuzz '^FuzzDescribe$$' -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzDescribeSecrets -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzSet -fuzztime $(FUZZTIME) ./internal/fieldjson
	$(GO) test -run '^$$' -fuzz FuzzListAnswers -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzParseSeed -fuzztime $(FUZZTIME) ./sandbox
	$(GO) test -run '^$$' -fuzz FuzzEscape -fuzztime $(FUZZTIME) ./internal/textsafe
	$(GO) test -run '^$$' -fuzz FuzzDecodeFile -fuzztime $(FUZZTIME) ./state
