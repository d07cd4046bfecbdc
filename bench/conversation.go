package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ragchat/ragchat/internal/wsclient"
	"github.com/ragchat/ragchat/local/dynamo"
	"github.com/ragchat/ragchat/shared/store"
)

// ConversationConfig is the conversation experiment: Joins sockets joining
// an answer mid-stream, one 4-second answer asked with a clientMessageId
// (its DynamoDB requests and request units), and HistoryReps reads of a
// history page of a room holding HistoryMessages messages.
type ConversationConfig struct {
	Joins           int
	HistoryMessages int
	HistoryReps     int
}

// ConversationResult holds the figures: join latencies (ms, from the
// joining socket's connect to its first frame of the answer), the calls of
// the 4-second answer with its duration and request units, and history
// page latencies (ms): the newest page and the page reached through 10
// cursors.
type ConversationResult struct {
	Config     ConversationConfig
	JoinMs     []float64
	Answer     dynamo.Counts
	AnswerMs   float64
	RRU, WRU   float64
	Logical    map[string]string
	PageMs     []float64
	DeepPageMs []float64
}

// RunConversation measures joining mid-answer, the 4-second answer's
// DynamoDB budget and history reads on the local stack.
func RunConversation(ctx context.Context, env *Env, cfg ConversationConfig, log io.Writer) (*ConversationResult, error) {
	res := &ConversationResult{Config: cfg, Logical: env.Logical()}
	token, err := env.API.Login(ctx, "apt001", "hong2", "1234")
	if err != nil {
		return nil, err
	}
	room, err := env.API.CreateRoom(ctx, token)
	if err != nil {
		return nil, err
	}
	asker, err := wsclient.Dial(ctx, env.Stack.URLs.WebSocket, token, room)
	if err != nil {
		return nil, err
	}
	defer asker.Close()

	// One 4-second answer (40 deltas 100 ms apart) with a clientMessageId.
	env.RAG.SetBackend(Script{Deltas: ScriptedAnswer(40), Pace: 100 * time.Millisecond})
	if _, err := ask(ctx, asker, "관리비는 언제 내나요?", time.Minute); err != nil { // warm-up
		return nil, err
	}
	reports := env.Reports.Count("MessageFunction")
	before := env.Stack.Dynamo.Counts()
	start := time.Now()
	if err := asker.Send(ctx, wsclient.QuestionWithID("관리비는 언제 내나요?", "c-bench-budget")); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, err = asker.ReadAnswer(rctx)
	cancel()
	if err != nil {
		return nil, err
	}
	res.AnswerMs = ms(time.Since(start))
	if _, ok := env.Reports.WaitAfter("MessageFunction", reports, time.Minute); !ok {
		return nil, fmt.Errorf("no REPORT line from MessageFunction")
	}
	res.Answer = env.Stack.Dynamo.Counts().Sub(before)
	items, err := measureItems(ctx, env, room)
	if err != nil {
		return nil, err
	}
	res.RRU, res.WRU = items.Units(res.Answer)
	fmt.Fprintf(log, "  4-second answer: %d DynamoDB requests in %.1f s\n", res.Answer.Total(), res.AnswerMs/1000)

	// Joins: a second socket connects while an answer streams (2 s long).
	env.RAG.SetBackend(Script{Deltas: ScriptedAnswer(40), Pace: 50 * time.Millisecond})
	for i := range cfg.Joins {
		d, err := joinOnce(ctx, env, asker, token, room)
		if err != nil {
			return nil, fmt.Errorf("join %d: %w", i+1, err)
		}
		res.JoinMs = append(res.JoinMs, d)
	}

	// History: a room holding HistoryMessages messages.
	hroom, err := env.API.CreateRoom(ctx, token)
	if err != nil {
		return nil, err
	}
	st := store.New(env.Stack.DB, env.Stack.Tables)
	at := time.Now().UnixMilli() - int64(cfg.HistoryMessages)
	for i := range cfg.HistoryMessages {
		m := store.Message{RoomID: hroom, At: at + int64(i), MessageID: store.NewMessageID(), Role: store.RoleUser, Text: "관리비는 언제 내나요? 자동이체도 되나요?", UserName: "고객-275b"}
		if i%2 == 1 {
			m.Role, m.UserName, m.Outcome = store.RoleBot, "", store.OutcomeComplete
			m.Text = "관리비는 매월 25일까지 납부해 주시면 됩니다. 자동이체, 가상계좌, 카드 납부 중에서 고르실 수 있습니다."
		}
		if err := st.PutMessage(ctx, m); err != nil {
			return nil, err
		}
	}
	for range cfg.HistoryReps {
		d, _, err := historyPage(ctx, env, token, hroom, "")
		if err != nil {
			return nil, err
		}
		res.PageMs = append(res.PageMs, d)
	}
	cursor := ""
	for range 10 {
		_, next, err := historyPage(ctx, env, token, hroom, cursor)
		if err != nil {
			return nil, err
		}
		cursor = next
	}
	for range cfg.HistoryReps {
		d, _, err := historyPage(ctx, env, token, hroom, cursor)
		if err != nil {
			return nil, err
		}
		res.DeepPageMs = append(res.DeepPageMs, d)
	}
	return res, nil
}

// joinOnce asks on asker, connects a second socket once the first frame
// is in, and returns the time from that connect to the second socket's
// first answer frame.
func joinOnce(ctx context.Context, env *Env, asker *wsclient.Conn, token, room string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := asker.Send(ctx, wsclient.Question("주차 등록은 어떻게 하나요?")); err != nil {
		return 0, err
	}
	f, err := asker.NextTyped(ctx)
	if err != nil {
		return 0, err
	}
	asker.Unread(f)
	joined := time.Now()
	late, err := wsclient.Dial(ctx, env.Stack.URLs.WebSocket, token, room)
	if err != nil {
		return 0, err
	}
	defer late.Close()
	var first time.Duration
	for first == 0 {
		g, err := late.NextTyped(ctx)
		if err != nil {
			return 0, err
		}
		if g.IsAnswer() {
			if g.Seq != 1 {
				return 0, fmt.Errorf("the joining socket's first answer frame has seq %d", g.Seq)
			}
			first = g.At.Sub(joined)
			late.Unread(g)
		}
	}
	for _, c := range []*wsclient.Conn{asker, late} {
		a, err := c.ReadAnswer(ctx)
		if err != nil {
			return 0, err
		}
		if a.Terminal == nil || a.Terminal.Type != wsclient.TypeComplete {
			return 0, fmt.Errorf("answer %s did not complete", a.MessageID)
		}
	}
	return ms(first), nil
}

// historyPage reads one page of room's history (50 messages) before
// cursor; it returns the time taken and the page's nextCursor.
func historyPage(ctx context.Context, env *Env, token, room, cursor string) (float64, string, error) {
	u := env.API.Base + "/api/customer/rooms/" + room + "/messages?limit=50"
	if cursor != "" {
		u += "&before=" + cursor
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var page struct {
		Messages   []json.RawMessage `json:"messages"`
		NextCursor *string           `json:"nextCursor"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK || len(page.Messages) != 50 {
		return 0, "", fmt.Errorf("history page: status %d, %d messages, %v", resp.StatusCode, len(page.Messages), err)
	}
	d := ms(time.Since(start))
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return d, next, nil
}

// Tables are the section's tables: latencies, and the 4-second answer's
// DynamoDB requests.
func (r *ConversationResult) Tables() (*Table, *Table) {
	t := &Table{Header: []string{"measure", "p50 ms", "p99 ms", "n"}}
	t.Add("join: the joining socket's connect -> its first frame of the answer in flight (seq 1, the text so far)", f1(Median(r.JoinMs)), f1(Percentile(r.JoinMs, 99)), len(r.JoinMs))
	t.Add(fmt.Sprintf("history: the newest page (50) of %d messages", r.Config.HistoryMessages), f1(Median(r.PageMs)), f1(Percentile(r.PageMs, 99)), len(r.PageMs))
	t.Add(fmt.Sprintf("history: the 11th page (50, through 10 cursors) of %d messages", r.Config.HistoryMessages), f1(Median(r.DeepPageMs)), f1(Percentile(r.DeepPageMs, 99)), len(r.DeepPageMs))
	return t, countsTable(r.Answer, r.Logical)
}
