package handler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/relay"
)

// TestEvents_SampleEventsRunThroughTheHandler decodes every sample event of
// this function (events/message*.json, events/default*.json) and runs it:
// sendMessage events get the answer, handoff events a WAITING status
// frame, $default events an UNKNOWN_ACTION error, all posted to the @connections endpoint the event names.
func TestEvents_SampleEventsRunThroughTheHandler(t *testing.T) {
	var files []string
	for _, pattern := range []string{"message*.json", "default*.json"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "..", "events", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found %v, want the sendMessage and $default events", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayWebsocketProxyRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("decode %s: %v", file, err)
			}
			rc := ev.RequestContext
			if rc.EventType != "MESSAGE" || rc.ConnectionID == "" || rc.DomainName == "" || rc.Stage == "" {
				t.Fatalf("%s: not a websocket MESSAGE event: %+v", file, rc)
			}
			e := newEnv(t, ragTrace)
			e.connect(rc.ConnectionID, traceRoom, true)
			var endpoints []string
			e.h.CallbackURL = ""
			e.h.Poster = func(endpoint string) relay.Poster {
				endpoints = append(endpoints, endpoint)
				return e.ws.Client()
			}
			e.handle(context.Background(), ev)

			if want := "https://" + rc.DomainName + "/" + rc.Stage; len(endpoints) != 1 || endpoints[0] != want {
				t.Errorf("@connections endpoints %v, want [%s]", endpoints, want)
			}
			switch rc.RouteKey {
			case RouteSendMessage:
				if tr := e.only(rc.ConnectionID); tr.Terminal.Type != relay.TypeComplete || tr.Text != traceAnswer {
					t.Errorf("got %q ending %+v, want the trace's answer", tr.Text, tr.Terminal)
				}
			case RouteHandoff:
				if st := e.framesOf(rc.ConnectionID, relay.TypeStatus); len(st) != 1 || st[0].Status != "WAITING" {
					t.Errorf("status frames %+v, want WAITING", st)
				}
			case RouteDefault:
				if tr := e.only(rc.ConnectionID); tr.Terminal.Type != relay.TypeError || tr.Terminal.Code != CodeUnknownAction {
					t.Errorf("terminal %+v, want UNKNOWN_ACTION", tr.Terminal)
				}
			default:
				t.Errorf("route %q is not one of this function's", rc.RouteKey)
			}
		})
	}
}
