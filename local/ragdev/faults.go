package ragdev

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Fault names one way the dev RAG server can misbehave. See the package
// documentation for what each does.
type Fault string

// The fault switches. The first group replaces the answer, the second
// breaks the stream at its cut point (after the opening empty event and
// three pieces), the third changes how a complete answer is framed.
const (
	FaultNone             Fault = "none"               // a clean answer, overriding global faults
	FaultRefuse           Fault = "refuse"             // reset the connection without a response
	FaultHTTP500          Fault = "http500"            // 500 Internal Server Error, text/plain
	FaultJSON200          Fault = "json200"            // 200 application/json with the whole answer
	FaultStallHeaders     Fault = "stall-headers"      // stall before sending response headers
	FaultStallBeforeFirst Fault = "stall-before-first" // headers sent, stall before the first event
	FaultStallMid         Fault = "stall-mid"          // stall at the cut point
	FaultEOFBeforeDone    Fault = "eof-before-done"    // end the body cleanly at the cut point, no [DONE]
	FaultResetMid         Fault = "reset-mid"          // abort the connection at the cut point
	FaultSlow             Fault = "slow"               // a long pause before every piece
	FaultMalformed        Fault = "malformed"          // three non-JSON data lines among the good ones
	FaultHugeLine         Fault = "huge-line"          // a 1 MiB delta at the cut point, valid JSON
	FaultCRLF             Fault = "crlf"               // lines end with CR LF
	FaultCR               Fault = "cr"                 // lines end with a bare CR
	FaultBlankLines       Fault = "blank-lines"        // a blank line after every event (textbook SSE)
	FaultKeepalive        Fault = "keepalive"          // a ": ping" comment line before every event
	FaultFields           Fault = "fields"             // "retry:" first, "event:" and "id:" before every data line
	FaultNoSpace          Fault = "nospace"            // "data:" without the space
	FaultNoFinalNewline   Fault = "no-final-newline"   // the last line has no line end
	FaultCompleteWithText Fault = "complete-with-text" // the last piece rides on the isComplete:true event
	FaultNoDone           Fault = "no-done"            // end after the isComplete:true event, no [DONE]
)

// allFaults lists every fault; takesDuration those that accept a
// ":duration" argument.
var (
	allFaults = []Fault{
		FaultNone, FaultRefuse, FaultHTTP500, FaultJSON200, FaultStallHeaders, FaultStallBeforeFirst,
		FaultStallMid, FaultEOFBeforeDone, FaultResetMid, FaultSlow, FaultMalformed, FaultHugeLine,
		FaultCRLF, FaultCR, FaultBlankLines, FaultKeepalive, FaultFields, FaultNoSpace,
		FaultNoFinalNewline, FaultCompleteWithText, FaultNoDone,
	}
	takesDuration = []Fault{FaultSlow, FaultStallHeaders, FaultStallBeforeFirst, FaultStallMid}
	// exclusive faults replace the whole response and combine with nothing.
	exclusive = []Fault{FaultNone, FaultRefuse, FaultHTTP500, FaultJSON200}
	// cutFaults end or pause the stream at the cut point; one at a time.
	cutFaults = []Fault{FaultStallMid, FaultEOFBeforeDone, FaultResetMid}
)

// Faults is a set of fault switches with their optional durations. The
// zero value injects nothing. Faults values are immutable.
type Faults struct {
	order []Fault
	args  map[Fault]time.Duration
}

// ParseFaults parses a comma-separated fault spec such as
// "stall-mid:2s,crlf". An empty spec gives the zero Faults. Unknown names,
// a duration on a fault that takes none, repeated or conflicting faults
// are errors.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return f, nil
	}
	f.args = map[Fault]time.Duration{}
	for part := range strings.SplitSeq(spec, ",") {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(part), ":")
		fault := Fault(strings.ToLower(name))
		if !slices.Contains(allFaults, fault) {
			return Faults{}, fmt.Errorf("unknown fault %q", name)
		}
		if _, dup := f.args[fault]; dup {
			return Faults{}, fmt.Errorf("fault %q given twice", fault)
		}
		var d time.Duration
		if hasArg {
			if !slices.Contains(takesDuration, fault) {
				return Faults{}, fmt.Errorf("fault %q takes no argument", fault)
			}
			var err error
			if d, err = time.ParseDuration(arg); err != nil || d < 0 {
				return Faults{}, fmt.Errorf("fault %q: invalid duration %q", fault, arg)
			}
		}
		f.order = append(f.order, fault)
		f.args[fault] = d
	}
	if err := f.validate(); err != nil {
		return Faults{}, err
	}
	return f, nil
}

func (f Faults) validate() error {
	cuts := 0
	for _, x := range f.order {
		if slices.Contains(exclusive, x) && len(f.order) > 1 {
			return fmt.Errorf("fault %q cannot be combined with others", x)
		}
		if slices.Contains(cutFaults, x) {
			cuts++
		}
	}
	if cuts > 1 {
		return fmt.Errorf("at most one of %v at a time", cutFaults)
	}
	if f.Has(FaultCR) && f.Has(FaultCRLF) {
		return fmt.Errorf("faults %q and %q conflict", FaultCR, FaultCRLF)
	}
	return nil
}

// Has reports whether fault x is switched on.
func (f Faults) Has(x Fault) bool {
	_, ok := f.args[x]
	return ok
}

// Duration returns the argument given to x, or def when none was given.
func (f Faults) Duration(x Fault, def time.Duration) time.Duration {
	if d := f.args[x]; d > 0 {
		return d
	}
	return def
}

// IsZero reports whether no fault is switched on.
func (f Faults) IsZero() bool { return len(f.order) == 0 }

// String returns the spec ParseFaults would read back into f.
func (f Faults) String() string {
	parts := make([]string, 0, len(f.order))
	for _, x := range f.order {
		if d := f.args[x]; d > 0 {
			parts = append(parts, string(x)+":"+d.String())
		} else {
			parts = append(parts, string(x))
		}
	}
	return strings.Join(parts, ",")
}

// markerRE finds a fault marker such as "#fault=stall-mid:2s,crlf" in a
// question.
var markerRE = regexp.MustCompile(`#fault=([A-Za-z0-9:.,\-]*)`)

// splitMarker removes a fault marker from message. It reports whether a
// marker was present and the faults it names.
func splitMarker(message string) (rest string, f Faults, found bool, err error) {
	m := markerRE.FindStringSubmatchIndex(message)
	if m == nil {
		return message, Faults{}, false, nil
	}
	f, err = ParseFaults(message[m[2]:m[3]])
	if err != nil {
		return message, Faults{}, true, fmt.Errorf("fault marker: %w", err)
	}
	rest = strings.TrimSpace(message[:m[0]] + message[m[1]:])
	return rest, f, true, nil
}
