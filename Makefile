# ragchat. `make run` starts the whole stack locally, `make test` runs every
# test (installing what the tests need first). `sam build` calls the
# build-<LogicalId> targets (Metadata BuildMethod: makefile).

GO            ?= go
GOOS          ?= linux
GOARCH        ?= arm64
ARTIFACTS_DIR ?= .aws-sam/manual
CACHE         := .cache
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DYNALITE      := $(CACHE)/node/node_modules/.bin/dynalite
# Fuzzing is bounded by a count of executions, not by time: Go 1.26's fuzz
# coordinator can report its own -fuzztime deadline as a failure ("context
# deadline exceeded", no crasher; golang/go#75804, fixed in Go 1.27), which
# failed one CI run. 50,000 executions take 6-13 s per target here.
FUZZTIME      ?= 50000x
# Minimising each new interesting input takes up to 60 s by default, and a
# short run then spends most of its time there at 0 execs/s: a bounded
# minimisation keeps the fuzzer fuzzing (FuzzReader: 61k execs in 10 s
# instead of 20k).
FUZZMINIMIZE ?= 100x

GOBUILD = CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w"

build-LoginFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/login
build-ChatbotFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/chatbot
build-ConnectFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/connect
build-DisconnectFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/disconnect
build-MessageFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/message
build-AgentFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/agent
build-HistoryFunction:
	$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/history

.PHONY: run test unit test-dynalite fuzz lint bench soak deps-test template tools-template

## run: the whole stack on this machine (HTTP 3000, WebSocket 3001, RAG 8040)
run:
	@$(GO) build -o .local/bin/ragchat-local ./local/cmd/ragchat-local
	@./.local/bin/ragchat-local $(ARGS)

## test: lint, every test with the race detector, the store against dynalite, short fuzzing
test: deps-test tools-template lint unit test-dynalite fuzz

## template: cfn-lint, the SAM transform and our rules over template.yaml
template: tools-template
	$(GO) test -count=1 -run 'Template|Choose|Condition' ./internal/samtemplate/

# The template is checked by the real tools (internal/samtemplate's tests
# run them); without them `make test` stops here and says what to install.
tools-template:
	@command -v cfn-lint >/dev/null 2>&1 || { echo "cfn-lint is not installed: pip install cfn-lint (make test checks template.yaml with it)"; exit 1; }
	@python3 -c 'import samtranslator' 2>/dev/null || { echo "the SAM translator is not installed: pip install aws-sam-translator (make test runs the SAM transform of template.yaml)"; exit 1; }

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# The store and handler suites again, against dynalite (a second,
# independent DynamoDB implementation) instead of the embedded server.
test-dynalite: $(DYNALITE)
	@set -e; rm -f $(CACHE)/dynalite.port; \
	NODE_PATH=$(abspath $(CACHE))/node/node_modules node -e 'const s=require("dynalite")({createTableMs:0,deleteTableMs:0,updateTableMs:0});s.listen(0,"127.0.0.1",()=>console.log(s.address().port))' >$(CACHE)/dynalite.port 2>$(CACHE)/dynalite.log & pid=$$!; \
	trap "kill $$pid" EXIT; \
	for i in $$(seq 1 100); do [ -s $(CACHE)/dynalite.port ] && break; sleep 0.1; done; \
	port=$$(cat $(CACHE)/dynalite.port); [ -n "$$port" ] || { cat $(CACHE)/dynalite.log; exit 1; }; \
	echo "dynalite on 127.0.0.1:$$port"; \
	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$$port $(GO) test -count=1 -timeout 10m ./shared/store/... ./functions/... ./local/dynamo/... ./internal/testkit/... ./cmd/...

fuzz:
	@set -e; for f in $$(grep -rlE '^func Fuzz[A-Z]' --include='*_test.go' shared functions local); do \
		for name in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' $$f | cut -d' ' -f2); do \
			echo "fuzz ./$$(dirname $$f) $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./$$(dirname $$f); \
		done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: benchmarks; BENCH_QUICK=1 for a short run
bench:
	$(GO) run ./bench/cmd/ragchat-bench

## soak: the local stack under 50 clients with random RAG faults (SOAK=30s for a smoke run)
SOAK        ?= 10m
SOAK_REPORT ?= .local/soak.md
soak:
	@mkdir -p $(dir $(abspath $(SOAK_REPORT)))
	$(GO) test -count=1 -run '^TestSoak$$' -timeout 30m -v ./e2e/ -soak=$(SOAK) -soak.report=$(abspath $(SOAK_REPORT))

deps-test: $(DYNALITE)
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v aws >/dev/null 2>&1 || missing="$$missing awscli"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (browser test, aws CLI test) from Debian"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
		|| { echo "could not install$$missing; the tests that need them will be skipped"; [ -z "$$CI" ] || exit 1; }; \
	fi

$(DYNALITE):
	mkdir -p $(CACHE)/node
	cd $(CACHE)/node && npm install --no-audit --no-fund --silent dynalite@4.0.0
