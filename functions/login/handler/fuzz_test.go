package handler

import (
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ragchat/ragchat/shared/apigw"
	"github.com/ragchat/ragchat/shared/auth"
	"github.com/ragchat/ragchat/shared/store"
)

// FuzzReadCredentials feeds arbitrary bodies and query strings to the login
// decoder: it never panics, refuses with a 4xx *apigw.Error only, and what
// it accepts is a well-formed id and a password bcrypt can check.
func FuzzReadCredentials(f *testing.F) {
	f.Add(`{"id":"hong2","password":"1234"}`, "", false)
	f.Add("", "id=hong2&password=1234", false)
	f.Add("eyJpZCI6ImhvbmcyIiwicGFzc3dvcmQiOiIxMjM0In0=", "", true)
	f.Add(`{"id":"hong2","password":"1234"} x`, "id=a&id=b", false)
	f.Add(`{"id":7}`, "password=%ff", false)
	f.Add("{\"id\":\"\xff\"}", "id=%zz", false)
	f.Fuzz(func(t *testing.T, body, rawQuery string, isBase64 bool) {
		req := events.APIGatewayV2HTTPRequest{Body: body, RawQueryString: rawQuery, IsBase64Encoded: isBase64}
		c, err := readCredentials(req)
		if err != nil {
			var e *apigw.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 || e.Code == "" || !utf8.ValidString(e.Message) {
				t.Fatalf("error %v is not a client error", err)
			}
			if e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("unexpected status %d", e.Status)
			}
			return
		}
		if !store.ValidUserID(c.ID) || c.Password == "" || len(c.Password) > auth.MaxPasswordLen || !utf8.ValidString(c.Password) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
