// Package e2e holds ragchat's end-to-end, fault, abuse and soak tests. They
// drive the local stack (local/stack) exactly as a client would: HTTP login
// and room creation, a real websocket, the real function binaries running as
// bootstrap processes behind the Lambda Runtime API, the embedded DynamoDB
// and the dev RAG server, and they check the outcome in the tables through
// the AWS SDK.
//
// One stack is started per test binary (TestMain) and shared; cases are
// isolated by using their own users and rooms, and every fault a case
// injects is removed when the case ends. The Lambda-deadline case starts a
// second stack whose message function runs with a large DEADLINE_MARGIN.
//
// Run:
//
//	go test -race -count=1 ./e2e/                     # the default suite (part of make test)
//	go test -count=1 -run '^TestSoak$' -soak=10m -timeout 30m -v ./e2e/
//
// The soak runs only when -soak is given a duration (-soak=30s smoke-runs
// it); -soak.clients sets the number of clients (50) and -soak.report
// writes its samples and totals as Markdown to a file. docs/reliability.md
// records what every case expects and what was observed.
package e2e
