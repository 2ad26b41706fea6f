# Targets users and CI need; nothing else. Only Go is required.
GO ?= go
BIN := bin/groupsync
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test demo lint bench fuzz

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

demo: build
	./scripts/demo.sh $(BIN)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./manifest .

# Each target for FUZZTIME (30s); crashers land in testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseCSV -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzParseYAML -fuzztime $(FUZZTIME) ./manifest
	$(GO) test -run '^$$' -fuzz FuzzObject -fuzztime $(FUZZTIME) ./internal/flatjson
	$(GO) test -run '^$$' -fuzz FuzzCanonical -fuzztime $(FUZZTIME) ./internal/canonjson
	$(GO) test -run '^$$' -fuzz FuzzQuote -fuzztime $(FUZZTIME) ./internal/canonjson
	$(GO) test -run '^$$' -fuzz '^FuzzDescribe$$' -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzDescribeSecrets -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzSet -fuzztime $(FUZZTIME) ./internal/fieldjson
	$(GO) test -run '^$$' -fuzz FuzzListAnswers -fuzztime $(FUZZTIME) ./explo
	$(GO) test -run '^$$' -fuzz FuzzParseSeed -fuzztime $(FUZZTIME) ./sandbox
	$(GO) test -run '^$$' -fuzz FuzzEscape -fuzztime $(FUZZTIME) ./internal/textsafe
