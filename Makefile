# distchat: `make run` builds everything and starts the server; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The build date is the commit's, so that building one commit twice gives the same binary.
EPOCH   ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DATE    ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
BIN     := bin/distchat
GO_SRC  := $(shell find . -name '*.go' -not -path './node_modules/*' 2>/dev/null) go.mod go.sum
UI_SRC  := $(shell find web/src web/public web/index.html -type f 2>/dev/null) package.json vite.config.ts
ARGS    ?=
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: build run cluster chaos ui test test-go test-ui test-e2e chromium lint dev dist bench clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: node_modules/.package-lock.json $(UI_SRC)
	npm run build

ui: web/dist/index.html ## build the web UI into web/dist

$(BIN): web/dist/index.html $(GO_SRC)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ .

build: $(BIN) ## build the UI and the binary (bin/distchat)

run: build ## build and start the server on http://localhost:8080 (ARGS="--addr :9000" to change)
	./$(BIN) $(ARGS)

# golangci-lint, built by the go command from the module proxy the first time (then cached).
GOLANGCI_LINT ?= go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

lint: ## go vet, gofmt, golangci-lint (.golangci.yml), go mod tidy check
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' ':!third_party')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@cp go.mod go.mod.bak && cp go.sum go.sum.bak; go mod tidy; \
	  if ! cmp -s go.mod go.mod.bak || ! cmp -s go.sum go.sum.bak; then mv go.mod.bak go.mod; mv go.sum.bak go.sum; echo "go mod tidy changes go.mod/go.sum"; exit 1; fi; \
	  rm -f go.mod.bak go.sum.bak

test-go: ## Go tests with the race detector
	go test -race -count=1 ./...

test-ui: node_modules/.package-lock.json ## TypeScript check and Vitest
	npm run typecheck
	npm test

chromium: ## find Chromium for the browser tests (installs Debian's chromium when root with apt)
	@web/e2e/chromium.sh >/dev/null

test-e2e: build ## Playwright end-to-end tests in headless Chromium against bin/distchat
	CHROMIUM_PATH=$$(web/e2e/chromium.sh) npm run e2e

# Chromium is looked for (or installed) first, so that a machine without it stops at once
# with the command that fixes it rather than after the Go tests.
test: chromium lint test-go test-ui test-e2e ## every test: Go, Vitest, browser end-to-end

# Three nodes on this machine, each with its own data directory, clustered over routes on
# loopback ports, with a cluster secret made once (32 random bytes, base64, mode 0600).
# Every node's output is prefixed with its name; Ctrl-C stops them all.
CLUSTER_HTTP   ?= 8081 8082 8083
CLUSTER_ROUTES ?= 6222 6223 6224
CLUSTER_SECRET ?= data/cluster.secret
cluster: build ## three clustered nodes: http://localhost:8081-8083, routes on 6222-6224, data in ./data/node1..3, secret in ./data/cluster.secret (Ctrl-C stops them)
	@mkdir -p $(dir $(CLUSTER_SECRET)); \
	[ -s $(CLUSTER_SECRET) ] || (umask 077; head -c 32 /dev/urandom | base64 > $(CLUSTER_SECRET)) || exit 1; \
	http=($(CLUSTER_HTTP)); routes=($(CLUSTER_ROUTES)); peers=; \
	for r in $${routes[@]}; do peers=$$peers$${peers:+,}127.0.0.1:$$r; done; \
	pids=; trap 'kill $$pids 2>/dev/null; wait $$pids 2>/dev/null; echo "cluster stopped"' EXIT; trap 'exit 130' INT TERM; \
	for i in 0 1 2; do n=node$$((i+1)); \
	  ./$(BIN) --addr :$${http[i]} --node-name $$n --data ./data/$$n \
	    --cluster-listen 127.0.0.1:$${routes[i]} --cluster-peers $$peers --cluster-secret-file $(CLUSTER_SECRET) $(ARGS) \
	    > >(sed -u "s/^/$$n | /") 2>&1 & pids="$$pids $$!"; \
	done; \
	echo "three nodes starting: http://localhost:$${http[0]}  http://localhost:$${http[1]}  http://localhost:$${http[2]}  (Ctrl-C stops them)"; \
	wait $$pids

chaos: ## the longer failure tests on real three-node clusters (kills, restarts, lost quorum, network partitions: root)
	DISTCHAT_CHAOS_ROUNDS=$${DISTCHAT_CHAOS_ROUNDS:-3} DISTCHAT_CHAOS_DOWN=$${DISTCHAT_CHAOS_DOWN:-5s} \
	  DISTCHAT_PARTITION_CUT=$${DISTCHAT_PARTITION_CUT:-15s} DISTCHAT_PARTITION_HEAL=$${DISTCHAT_PARTITION_HEAL:-10s} \
	  go test -count=1 -v -run 'TestCluster|TestPartitions' -timeout 60m . 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|cluster_test.go|partition_linux_test.go'

bench: ## Go benchmarks, then the loopback load test against gorilla's chat example (bench/run.sh)
	go test -run '^$$' -bench . -benchmem ./server/...
	bench/run.sh

dev: node_modules/.package-lock.json ## Go server on :8080 and Vite with hot reload on :5173
	@echo "Go server on http://localhost:8080 (API, /ws); open the UI at http://localhost:5173"
	@go run . $(ARGS) & gopid=$$!; trap "kill $$gopid 2>/dev/null" EXIT INT TERM; npm run dev

dist: web/dist/index.html ## release archives for 6 platforms and SHA256SUMS in dist/ (UI inside, version stamped)
	@rm -rf dist && mkdir -p dist/.bin
	@for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  echo "  build $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o dist/.bin/$$os-$$arch/distchat$$ext . || exit 1; \
	done
	go run ./tools/dist -bin dist/.bin -out dist -name distchat-$(VERSION) -mtime $(EPOCH) README.md LICENSE
	@rm -rf dist/.bin

clean: ## remove build output
	rm -rf bin dist web/dist/assets web/dist/index.html test-results playwright-report
