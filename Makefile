# ragchat. `make run` starts the whole stack locally, `make test` runs every
# test. `sam build` calls the build-<LogicalId> targets (BuildMethod makefile).

GO            ?= go
GOOS          ?= linux
GOARCH        ?= arm64
ARTIFACTS_DIR ?= .aws-sam/manual
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

.PHONY: test
test:
	$(GO) test ./...
