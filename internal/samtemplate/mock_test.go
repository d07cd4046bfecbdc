package samtemplate

import (
	"strings"
	"testing"
)

// mockAPI is a WebSocket API whose ping route has a MOCK integration;
// extra is appended to its resources.
const mockAPI = `
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: prod}
  PingIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: MOCK}
  PingRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: ping
      Target: !Sub "integrations/${PingIntegration}"
`

func TestWebSocket_MockRoutes(t *testing.T) {
	withResponse := `      RouteResponseSelectionExpression: $default
  PingRouteResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref PingRoute, RouteResponseKey: $default}
`
	integrationResponse := func(body string) string {
		return `  PingIntegrationResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties:
      ApiId: !Ref Api
      IntegrationId: !Ref PingIntegration
      IntegrationResponseKey: $default
      ResponseTemplates: {$default: '` + body + `'}
`
	}
	tests := []struct {
		name, extra, want, err string
	}{
		{"route response and template", withResponse + integrationResponse(`{"type":"pong"}`), `{"type":"pong"}`, ""},
		{"no route response: nothing sent back", integrationResponse(`{"type":"pong"}`), "", ""},
		{"route response without an integration response", withResponse, "", "no $default IntegrationResponse"},
		{"a Velocity template", withResponse + integrationResponse(`{"id":"$context.connectionId"}`), "", "static response templates only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse([]byte(mockAPI + tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			ws, err := tpl.WebSocket()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reply, ok := ws.Mocks["ping"]; !ok || reply != tt.want || len(ws.Routes) != 0 {
				t.Errorf("mocks %v routes %v, want ping -> %q and no function route", ws.Mocks, ws.Routes, tt.want)
			}
		})
	}
}
