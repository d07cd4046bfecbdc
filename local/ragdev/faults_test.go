package ragdev

import (
	"testing"
	"time"
)

func TestParseFaults_ReadsSpecs(t *testing.T) {
	tests := []struct {
		spec    string
		want    string // canonical String(); "" for the zero value
		wantErr bool
	}{
		{"", "", false},
		{"  ", "", false},
		{"stall-mid", "stall-mid", false},
		{"STALL-MID:2s", "stall-mid:2s", false},
		{"crlf, blank-lines ,keepalive", "crlf,blank-lines,keepalive", false},
		{"slow:250ms,huge-line", "slow:250ms,huge-line", false},
		{"none", "none", false},
		{"bogus", "", true},
		{"crlf,crlf", "", true},
		{"crlf:1s", "", true},
		{"slow:fast", "", true},
		{"slow:-1s", "", true},
		{"refuse,crlf", "", true},
		{"none,slow", "", true},
		{"stall-mid,eof-before-done", "", true},
		{"cr,crlf", "", true},
		{"crlf,", "", true},
	}
	for _, tt := range tests {
		f, err := ParseFaults(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseFaults(%q) error = %v, want error %v", tt.spec, err, tt.wantErr)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseFaults(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestFaults_DurationFallsBackToTheDefault(t *testing.T) {
	f, err := ParseFaults("slow:2s,stall-mid")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Duration(FaultSlow, time.Hour); got != 2*time.Second {
		t.Errorf("slow duration %v, want 2s", got)
	}
	if got := f.Duration(FaultStallMid, time.Hour); got != time.Hour {
		t.Errorf("stall-mid duration %v, want the default", got)
	}
	if (Faults{}).Has(FaultSlow) || !(Faults{}).IsZero() {
		t.Error("the zero Faults has faults")
	}
}

func TestSplitMarker_RemovesTheMarkerFromTheQuestion(t *testing.T) {
	tests := []struct {
		in, rest, faults string
		found, wantErr   bool
	}{
		{"관리비는요?", "관리비는요?", "", false, false},
		{"관리비는요? #fault=stall-mid:2s,crlf", "관리비는요?", "stall-mid:2s,crlf", true, false},
		{"#fault=none 관리비는요?", "관리비는요?", "none", true, false},
		{"관리비는요? #fault=nonsense", "", "", true, true},
	}
	for _, tt := range tests {
		rest, f, found, err := splitMarker(tt.in)
		if (err != nil) != tt.wantErr || found != tt.found {
			t.Errorf("splitMarker(%q): found %v err %v", tt.in, found, err)
			continue
		}
		if !tt.wantErr && (rest != tt.rest || f.String() != tt.faults) {
			t.Errorf("splitMarker(%q) = %q, %q; want %q, %q", tt.in, rest, f, tt.rest, tt.faults)
		}
	}
}

func TestOptionsFromEnv_ReadsFaultsAndDelay(t *testing.T) {
	env := map[string]string{"RAGDEV_FAULTS": "slow:1s", "RAGDEV_PIECE_DELAY": "0"}
	o, err := OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.Faults.String() != "slow:1s" || o.PieceDelay >= 0 {
		t.Errorf("got faults %q delay %v", o.Faults, o.PieceDelay)
	}
	for _, bad := range []map[string]string{{"RAGDEV_FAULTS": "nope"}, {"RAGDEV_PIECE_DELAY": "soon"}} {
		if _, err := OptionsFromEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("OptionsFromEnv(%v) accepted", bad)
		}
	}
}
