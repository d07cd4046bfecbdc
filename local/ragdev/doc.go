// Package ragdev is the dev RAG server of the local stack: the request and
// Server-Sent Events contract of the company RAG service (see
// shared/seed-trace.txt), answers retrieved from a small knowledge base per
// company, and switches that make it fail in every way the relay must
// survive.
//
// # Endpoints
//
//	POST   /v1/chatbot/ask          the RAG contract (below)
//	GET    /healthz                 {"status":"ok"}
//	GET    /_faults                 {"faults":"<spec>","count":<n>}: the global faults
//	PUT    /_faults                 set them: body {"faults":"stall-mid:5s,crlf","count":1}
//	DELETE /_faults                 switch them off
//	GET    /_sessions/{sessionId}   {"sessionId":…,"turns":[{"question","answer","entryId","followUp"}]}
//
// # The RAG contract
//
// The request is the trace's body, Content-Type application/json (else 415):
//
//	{"chat":{"message":"…","stream":true,"useHistory":true},
//	 "meta":{"category1":"","category2":"","companyId":"apt001","sessionId":"room-…",
//	         "userId":"…","ragSysInfo":"DEFAULT_RAG"}}
//
// chat.message, meta.companyId and meta.sessionId are required; a missing
// or mistyped field, malformed JSON or invalid UTF-8 gets 400 with
// {"code":"INVALID_REQUEST","message":"…"}, a body over 64 KiB 413.
// The answer is 200 "text/event-stream; charset=utf-8" with
// "cache-control: no-cache" and "x-accel-buffering: no", framed as the
// trace frames it, one flushed line per event:
//
//	data: {"sessionId": "room-…", "delta": "", "isComplete": false}
//	data: {"sessionId": "room-…", "delta": "관리", "isComplete": false}
//	…
//	data: {"sessionId": "room-…", "delta": "", "isComplete": true}
//	data: [DONE]
//
// The JSON is Python's (a space after ':' and ',', non-ASCII unescaped).
// Concatenating the deltas gives the answer exactly. Pieces are one to
// three Hangul syllables (a space rides on the piece after it), sent
// Options.PieceDelay apart (30 ms by default). With "stream": false the
// answer comes as one application/json object {"sessionId","answer",
// "isComplete"}.
//
// # Answers
//
// Each company has a YAML knowledge base embedded from kb/ (apt001: an
// apartment complex's management office, book001: a publisher's shop).
// Entries are ranked by BM25F over character bigrams of the question,
// keywords and answer, with light stripping of Korean particles and
// endings (see rank.go); below the score and coverage thresholds, and for
// an unknown company, the answer is the trace's polite fallback with the
// question's nouns as its subject ("책 재료와 관련된 자세한 정보는 …").
//
// The last turns of each session (Options.HistoryTurns, LRU over
// Options.HistorySessions, forgotten after Options.HistoryTTL) are kept.
// With "useHistory": true a short question ("요금은요?") or one that finds
// nothing on its own is read together with the topic of the session's last
// answered question; with false the history is ignored.
//
// # Fault switches
//
// A fault spec is a comma-separated list of names, some with a duration
// ("slow:200ms", "stall-mid:2s"). It applies to one request through a
// marker anywhere in the question, which is removed before retrieval:
//
//	관리비는 언제 내나요? #fault=stall-mid
//
// or to every request without a marker, globally: Options.Faults (with
// Options.FaultCount), Server.SetFaults, PUT /_faults, or RAGDEV_FAULTS
// through OptionsFromEnv. A marker wins over the global faults;
// "#fault=none" forces a clean answer. The cut point is after the opening
// empty event and CutPieces (3) pieces.
//
//	refuse              reset the TCP connection, no response at all
//	http500             500 "Internal Server Error", text/plain
//	json200             200 application/json {"sessionId","answer","isComplete"}
//	stall-headers[:d]   stall before the response headers
//	stall-before-first[:d]  send headers, stall before the first event
//	stall-mid[:d]       stall at the cut point
//	eof-before-done     end the body cleanly at the cut point: no final event, no [DONE]
//	reset-mid           abort the connection at the cut point (unexpected EOF)
//	slow[:d]            pause d (default 1 s) before every event
//	malformed           3 non-JSON data lines among the good ones (MalformedLines)
//	huge-line           a valid event whose delta is 1 MiB of text, at the cut point
//	crlf | cr           CR LF or bare CR line ends
//	blank-lines         an empty line after every event (textbook SSE)
//	keepalive           a ": ping" comment line before every event
//	fields              "retry: 3000" first, "event: message" and "id: n" before each data line
//	nospace             "data:" without the space
//	no-final-newline    the last line ("data: [DONE]") without a line end
//	complete-with-text  the last piece rides on the isComplete:true event
//	no-done             end after the isComplete:true event, without [DONE]
//	none                a clean answer, overriding the global faults
//
// A stall lasts d, Options.StallFor (10 min) when no d is given, and
// resumes the normal stream afterwards; it ends early when the client
// goes away or Server.Close is called. refuse, http500, json200 and none
// combine with nothing; at most one of stall-mid, eof-before-done and
// reset-mid at a time; the rest combine freely ("crlf,blank-lines,keepalive").
// Except with refuse and http500, the turn is recorded in the session
// history with the full answer, so a test can compare what reached the
// client with GET /_sessions/{sessionId}.
package ragdev
