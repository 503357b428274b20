# kubernetes-mcp-runner
SHELL   := /bin/bash
BINARY  := kubernetes-mcp-runner
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT) -X main.buildDate=$(DATE)

JOBS_BIN := $(CURDIR)/bin/kube-apiserver $(CURDIR)/bin/kube-controller-manager

.PHONY: jobs all build test lint run demo bench load load-compare e2e fuzz clean release-check release-snapshot soak browser helm chart-check conformance

all: lint test build

build: ## Build the binary with version information.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

test: ## Vet and run every test with the race detector (the README's test command).
	go vet ./...
	go test -race -count=1 ./...

lint: ## gofmt and go vet (including the e2e and soak files) must be clean.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags 'e2e soak' ./...
	go vet -tags browser ./ui ./test
	go vet -tags conformance ./services/mcpsession
	go vet -tags jobs ./test

run demo: ## Run the demo: simulated clusters and the sample agent.
	go run . demo

bench: ## Run the benchmarks (numbers go to docs/benchmarks.md).
	go test -run '^$$' -bench . -benchmem ./...

LOAD_ARGS ?= --clusters 1000 --faults 20000
load: build ## Measure intake, reconnection and shutdown on this machine (docs/benchmarks.md).
	go build -o $(BINARY)-load ./cmd/$(BINARY)-load
	./$(BINARY)-load $(LOAD_ARGS)

COMPARE_ARGS ?= --clusters 5000,10000
load-compare: build ## The scale table: the built runner beside bare go-sdk sessions, with ratios (docs/benchmarks.md).
	go build -o $(BINARY)-load ./cmd/$(BINARY)-load
	./$(BINARY)-load compare --runner ./$(BINARY) $(COMPARE_ARGS)

FUZZTIME ?= 20s
fuzz: ## Run each fuzz target for FUZZTIME (corpora in */testdata/fuzz run in every go test).
	go test -run '^$$' -fuzz '^FuzzParseFault$$' -fuzztime $(FUZZTIME) ./services/mcpsession
	go test -run '^$$' -fuzz '^FuzzScanFaultNotification$$' -fuzztime $(FUZZTIME) ./services/mcpsession
	go test -run '^$$' -fuzz '^FuzzParseClusters$$' -fuzztime $(FUZZTIME) ./config
	go test -run '^$$' -fuzz '^FuzzConfigFile$$' -fuzztime $(FUZZTIME) ./config

clean:
	rm -rf $(BINARY) $(BINARY)-load dist

conformance: ## Subscribe against a real kubernetes-mcp-server (with events) at MCP_SERVER_URL; skipped without it, not in CI.
	MCP_SERVER_URL='$(MCP_SERVER_URL)' MCP_SERVER_CONTEXTS='$(MCP_SERVER_CONTEXTS)' MCP_SERVER_FAULTS='$(MCP_SERVER_FAULTS)' \
		go test -tags conformance -count=1 -v -run '^TestRealServer$$' -timeout 15m ./services/mcpsession

e2e: ## End-to-end suite: the built binary, a real Prometheus and Alertmanager, fault injection.
	go test -race -tags e2e -count=1 -run 'E2E' -timeout 20m ./test
	go test -race -tags e2e -count=1 -run 'TestRealAlertmanager|TestAlertmanagerDelivers|TestPrometheusRule' -timeout 10m ./services/alertmanager ./internal/alertmanagertest

HELM_VERSION := v3.22.0

# The pinned helm the chart tests run (go test ./packaging finds ./bin/helm).
$(CURDIR)/bin/helm:
	GOBIN=$(CURDIR)/bin go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

helm: $(CURDIR)/bin/helm ## Install the pinned helm into ./bin.

chart-check: $(CURDIR)/bin/helm ## helm lint and template of the chart (default and full values), decoded and checked.
	go test -count=1 -run 'TestHelm' ./packaging

GORELEASER_VERSION := v2.15.1
GORELEASER ?= $(shell command -v goreleaser 2>/dev/null || echo $(CURDIR)/bin/goreleaser)

$(CURDIR)/bin/goreleaser:
	GOBIN=$(CURDIR)/bin go install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

release-snapshot: $(GORELEASER) ## Snapshot build of every release artifact into dist/ (no container engine needed).
	$(GORELEASER) release --snapshot --clean --skip=docker,publish

release-check: release-snapshot ## goreleaser check, a snapshot build, and the test that inspects the deb.
	$(GORELEASER) check
	RELEASE_CHECK=1 go test -count=1 -run 'TestDebPackage|TestDebLintian' ./packaging

SOAK_DURATION ?= 3m
soak: ## Soak run (SOAK_DURATION=2h make soak): flat resources, no leaks, balanced books.
	set -o pipefail; SOAK_DURATION=$(SOAK_DURATION) go test -tags soak -count=1 -run TestSoak -timeout 0 -v ./test 2>&1 | { grep -v '^{"time' || true; }

UI_SCREENSHOT_DIR ?= $(CURDIR)/dist/screenshots
browser: ## Load the incidents page (in-process and served by the built binary) in headless Chromium (apt-get install chromium); screenshots go to UI_SCREENSHOT_DIR.
	UI_SCREENSHOT_DIR=$(UI_SCREENSHOT_DIR) go test -race -tags browser -count=1 -run Browser -v ./ui ./test

# kube-apiserver and kube-controller-manager v1.35.0 from the k8s.io/kubernetes
# module (test/kube pins it); about 11 minutes on 2 cores the first time.
$(JOBS_BIN):
	cd test/kube && go build -trimpath -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=v1.35.0' -o $(CURDIR)/bin/ k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager

jobs: $(JOBS_BIN) ## The Job runtime against a real kube-apiserver, kube-controller-manager and etcd (apt: etcd-server).
	go test -race -tags jobs -count=1 -run 'TestJob' -timeout 15m ./test ./packaging
