package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLoad_DefaultsAndOverrides(t *testing.T) {
	t.Setenv("USERS_TABLE", "U")
	t.Setenv("RAG_URL", "http://rag.example:8040/")
	t.Setenv("MIN_FRAME_INTERVAL", "0")
	t.Setenv("RAG_IDLE_TIMEOUT", "2500")
	t.Setenv("TOKEN_TTL", "30m")
	t.Setenv("LOG_LEVEL", "debug")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Users table", c.Tables.Users, "U"},
		{"RAG URL loses its trailing slash", c.RAGURL, "http://rag.example:8040"},
		{"RAG_SYS_INFO default", c.RAGSysInfo, "DEFAULT_RAG"},
		{"0 turns the frame floor off", c.MinFrameInterval, time.Duration(0)},
		{"bare numbers are milliseconds", c.RAGIdleTimeout, 2500 * time.Millisecond},
		{"Go durations", c.TokenTTL, 30 * time.Minute},
		{"connect timeout default", c.RAGConnectTimeout, 3 * time.Second},
		{"deadline margin default", c.DeadlineMargin, 2 * time.Second},
		{"post timeout default", c.PostTimeout, 3 * time.Second},
		{"log level", c.LogLevel, slog.LevelDebug},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoad_MalformedValuesAreErrorsNamingTheVariable(t *testing.T) {
	cases := map[string]string{
		"MIN_FRAME_INTERVAL": "fast",
		"POST_TIMEOUT":       "soon",
		"RAG_IDLE_TIMEOUT":   "-3s",
		"TOKEN_TTL":          "12 hours",
		"LOG_LEVEL":          "loud",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := Load(); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: err %v, want an error naming %s", name, value, err, name)
			}
		})
	}
}

func TestLogHandler_LinesCarryTheKeysLambdasLogLevelFilterReads(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewLogHandler(&buf, slog.LevelInfo))
	l.Debug("dropped")
	l.Warn("post refused", "status", 403)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	if line["level"] != "WARN" || line["msg"] != "post refused" || line["time"] != nil {
		t.Errorf("line %v", line)
	}
	ts, _ := line["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") {
		t.Errorf("timestamp %q is not RFC 3339 UTC: %v", ts, err)
	}
}

func TestTablesFrom_ReadsEveryTableVariableAndNamesTheMissing(t *testing.T) {
	env := map[string]string{"USERS_TABLE": "u", "ROOMS_TABLE": "r", "MESSAGES_TABLE": "m"}
	got := TablesFrom(func(v string) string { return env[v] })
	if want := (Tables{Users: "u", Rooms: "r", Messages: "m"}); got != want {
		t.Errorf("TablesFrom = %+v, want %+v", got, want)
	}
	if m := got.Missing(); strings.Join(m, ",") != "CONNECTIONS_TABLE,LOGIN_ATTEMPTS_TABLE,LIMITS_TABLE" {
		t.Errorf("Missing = %v", m)
	}
}
