package dynamo_test

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/local/dynamo"
)

// testTemplate declares tables of the shapes ragchat's store uses: a hash
// key table with a GSI sorted by a number, a hash key table with a
// hash-only GSI and a TTL, a hash+range table, and a table with only a TTL.
//
//go:embed testdata/template.yaml
var testTemplate string

func tables(t testing.TB, yaml string) []samtemplate.Table {
	t.Helper()
	tpl, err := samtemplate.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	tt, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	return tt
}

// env is one test's server and tables.
type env struct {
	srv    *dynamo.Server // nil when testing an external endpoint
	db     *dynamodb.Client
	url    string
	prefix string
}

// name is the physical name of a testTemplate table.
func (e env) name(logicalID string) string { return e.prefix + logicalID }

// embedded returns the embedded server, skipping the test on an external one.
func (e env) embedded(t *testing.T) *dynamo.Server {
	t.Helper()
	if e.srv == nil {
		t.Skip("needs the embedded server; AWS_ENDPOINT_URL_DYNAMODB selects another")
	}
	return e.srv
}

// setup returns a client (with the SDK's default retries unless
// attempts > 0) and testTemplate's tables under a fresh prefix. The server
// is a new embedded one, or, when AWS_ENDPOINT_URL_DYNAMODB is set, that
// endpoint: the behaviour these tests pin is what ragchat relies on from
// any DynamoDB (CI cross-checks dynalite this way).
func setup(t *testing.T, attempts int) env {
	t.Helper()
	e := env{url: os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")}
	if e.url == "" {
		srv, err := dynamo.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
		})
		e.srv, e.url = srv, srv.URL()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	e.prefix = "dynamo-test-" + hex.EncodeToString(b) + "-"
	e.db = newClient(e.url, attempts)
	if err := dynamo.CreateTables(context.Background(), e.db, tables(t, testTemplate), e.name); err != nil {
		t.Fatal(err)
	}
	return e
}

// localCredentials are the dummy credentials the tests' clients sign with.
var localCredentials = aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}

func newClient(url string, attempts int) *dynamodb.Client {
	return dynamo.NewClient(url, "us-east-1", localCredentials, func(o *dynamodb.Options) { o.RetryMaxAttempts = attempts })
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func null() types.AttributeValue { return &types.AttributeValueMemberNULL{Value: true} }

func room(id, owner string, createdAt int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"roomId":         s(id),
		"ownerKey":       s(owner),
		"createdAt":      n(createdAt),
		"lastActivityAt": n(createdAt),
		"members":        &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		"assignedAgent":  null(),
		"custId":         null(),
		"status":         s("BOT"),
	}
}

func TestPutItem_ConditionalCreateFailsTypedOnCollision(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	put := &dynamodb.PutItemInput{
		TableName:           aws.String(e.name("RoomsTable")),
		Item:                room("room-1", "apt001#hong2", 1),
		ConditionExpression: aws.String("attribute_not_exists(roomId)"),
	}
	if _, err := db.PutItem(ctx, put); err != nil {
		t.Fatalf("first put: %v", err)
	}
	_, err := db.PutItem(ctx, put)
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("second put: got %v, want ConditionalCheckFailedException", err)
	}
}

func TestGetItem_RoundTripsNullEmptyListAndNumbers(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	item := room("room-2", "apt001#hong2", 1769145304307)
	item["members"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), s("b")}}
	item["custId"] = s("cust-9")
	empty := room("room-3", "apt001#hong2", 5)
	for _, it := range []map[string]types.AttributeValue{item, empty} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: it}); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name string
		id   string
		want map[string]types.AttributeValue
	}{
		{"list with strings and an S custId", "room-2", item},
		{"empty list and NULLs", "room-3", empty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := render(e.item(t, "RoomsTable", "roomId", tc.id)), render(tc.want); got != want {
				t.Fatalf("item:\n got %s\nwant %s", got, want)
			}
		})
	}

	if got := e.item(t, "RoomsTable", "roomId", "room-missing"); got != nil {
		t.Fatalf("missing item: got %v, want nil", render(got))
	}
}

// item reads the testTemplate table's item whose string key attribute is
// value: nil when there is none.
func (e env) item(t *testing.T, logicalID, attribute, value string) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.name(logicalID)),
		Key:       map[string]types.AttributeValue{attribute: s(value)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// render prints an item deterministically for comparison.
func render(item map[string]types.AttributeValue) string {
	if item == nil {
		return "<nil>"
	}
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := "{"
	for _, k := range keys {
		out += k + ":" + renderValue(item[k]) + " "
	}
	return out + "}"
}

func renderValue(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S(" + v.Value + ")"
	case *types.AttributeValueMemberN:
		return "N(" + v.Value + ")"
	case *types.AttributeValueMemberNULL:
		return fmt.Sprintf("NULL(%t)", v.Value)
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprintf("BOOL(%t)", v.Value)
	case *types.AttributeValueMemberL:
		out := "L["
		for _, e := range v.Value {
			out += renderValue(e) + ","
		}
		return out + "]"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func sortStrings(ss []string) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j] < ss[j-1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

func TestUpdateItem_SetOnlyWhenItemExists(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: room("room-4", "o", 1)}); err != nil {
		t.Fatal(err)
	}
	touch := func(id string) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(e.name("RoomsTable")),
			Key:                       map[string]types.AttributeValue{"roomId": s(id)},
			UpdateExpression:          aws.String("SET lastActivityAt = :at"),
			ConditionExpression:       aws.String("attribute_exists(roomId)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":at": n(99)},
		})
		return err
	}
	if err := touch("room-4"); err != nil {
		t.Fatalf("touch existing: %v", err)
	}
	if got := renderValue(e.item(t, "RoomsTable", "roomId", "room-4")["lastActivityAt"]); got != "N(99)" {
		t.Fatalf("lastActivityAt = %s, want N(99)", got)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := touch("room-none"); !errors.As(err, &ccf) {
		t.Fatalf("touch missing: got %v, want ConditionalCheckFailedException", err)
	}
	if got := e.item(t, "RoomsTable", "roomId", "room-none"); got != nil {
		t.Fatalf("failed conditional update created an item: %s", render(got))
	}
}

func TestUpdateItem_AddCountsAndIfNotExistsKeepsFirstValue(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	key := map[string]types.AttributeValue{"attemptKey": s("apt001#hong2")}
	for i := range 3 {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(e.name("LoginAttemptsTable")),
			Key:              key,
			UpdateExpression: aws.String("ADD failures :one SET windowStart = if_not_exists(windowStart, :now), expiresAt = :exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one": n(1), ":now": n(int64(1000 + i)), ":exp": n(int64(2000 + i)),
			},
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("LoginAttemptsTable")), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	want := "{attemptKey:S(apt001#hong2) expiresAt:N(2002) failures:N(3) windowStart:N(1000) }"
	if got := render(out.Item); got != want {
		t.Fatalf("item:\n got %s\nwant %s", got, want)
	}

	// A conditional update that only applies while not locked.
	lock := func(until int64) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(e.name("LoginAttemptsTable")),
			Key:                       key,
			UpdateExpression:          aws.String("SET lockedUntil = :until"),
			ConditionExpression:       aws.String("attribute_not_exists(lockedUntil) OR lockedUntil < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":until": n(until), ":now": n(1000)},
		})
		return err
	}
	if err := lock(5000); err != nil {
		t.Fatalf("lock: %v", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := lock(9000); !errors.As(err, &ccf) {
		t.Fatalf("second lock: got %v, want ConditionalCheckFailedException", err)
	}
}

func TestDeleteItem_MissingItemIsNotAnError(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	key := map[string]types.AttributeValue{"connectionId": s("c-1")}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("ConnectionsTable")), Item: map[string]types.AttributeValue{
		"connectionId": s("c-1"), "roomId": s("room-1"), "expiresAt": n(10),
	}}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.name("ConnectionsTable")), Key: key}); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if got := e.item(t, "ConnectionsTable", "connectionId", "c-1"); got != nil {
		t.Fatalf("deleted item still there: %s", render(got))
	}
}

func TestQuery_ByOwnerNewestFirstWithLimit(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	for i, created := range []int64{300, 100, 200} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: room(fmt.Sprintf("room-%d", i), "apt001#hong2", created)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: room("room-other", "apt001#kim", 999)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		owner string
		want  []string
	}{
		{"newest of three", "apt001#hong2", []string{"room-0"}},
		{"other owner", "apt001#kim", []string{"room-other"}},
		{"no rooms", "apt001#nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(e.name("RoomsTable")),
				IndexName:                 aws.String("byOwner"),
				KeyConditionExpression:    aws.String("ownerKey = :o"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(tc.owner)},
				ScanIndexForward:          aws.Bool(false),
				Limit:                     aws.Int32(1),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(out.Items, "roomId"); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("rooms = %v, want %v", got, tc.want)
			}
		})
	}
}

func ids(items []map[string]types.AttributeValue, attr string) []string {
	var out []string
	for _, it := range items {
		if v, ok := it[attr].(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out
}

func TestQuery_ByRoomFiltersExpiredConnections(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	conns := []struct {
		id, room string
		expires  int64
	}{
		{"c-live-1", "room-1", 2000}, {"c-dead", "room-1", 500}, {"c-live-2", "room-1", 1001}, {"c-other", "room-2", 3000},
	}
	for _, c := range conns {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("ConnectionsTable")), Item: map[string]types.AttributeValue{
			"connectionId": s(c.id), "roomId": s(c.room), "expiresAt": n(c.expires), "userName": s("고객"),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(e.name("ConnectionsTable")),
		IndexName:                 aws.String("byRoom"),
		KeyConditionExpression:    aws.String("roomId = :r"),
		FilterExpression:          aws.String("expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("room-1"), ":now": n(1000)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(out.Items, "connectionId")
	sortStrings(got)
	if fmt.Sprint(got) != "[c-live-1 c-live-2]" {
		t.Fatalf("live connections = %v, want [c-live-1 c-live-2]", got)
	}
}

func TestQuery_MessagesInSortKeyOrderBothDirections(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	for _, sk := range []string{"0000000000002#m-b", "0000000000001#m-a", "0000000000003#m-c"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("MessagesTable")), Item: map[string]types.AttributeValue{
			"roomId": s("room-1"), "sk": s(sk), "text": s("책은 어떤 재료로 만듭니까?\n"),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		forward bool
		limit   int32
		want    string
	}{
		{"oldest first", true, 10, "[0000000000001#m-a 0000000000002#m-b 0000000000003#m-c]"},
		{"newest two", false, 2, "[0000000000003#m-c 0000000000002#m-b]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(e.name("MessagesTable")),
				KeyConditionExpression:    aws.String("roomId = :r"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("room-1")},
				ScanIndexForward:          aws.Bool(tc.forward),
				Limit:                     aws.Int32(tc.limit),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(out.Items, "sk")); got != tc.want {
				t.Fatalf("order = %s, want %s", got, tc.want)
			}
			if got := renderValue(out.Items[0]["text"]); got != "S(책은 어떤 재료로 만듭니까?\n)" {
				t.Fatalf("text = %q", got)
			}
		})
	}
}

func TestTimeToLive_RecordedAndDescribed(t *testing.T) {
	e := setup(t, 0)
	e.embedded(t) // dynalite has no TTL operations
	db := e.db
	ctx := context.Background()
	out, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(e.name("ConnectionsTable"))})
	if err != nil {
		t.Fatal(err)
	}
	d := out.TimeToLiveDescription
	if d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expiresAt" {
		t.Fatalf("ttl = %s %s, want ENABLED expiresAt", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
	}
	out, err = db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(e.name("MessagesTable"))})
	if err != nil {
		t.Fatal(err)
	}
	if out.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusDisabled {
		t.Fatalf("messages ttl = %s, want DISABLED", out.TimeToLiveDescription.TimeToLiveStatus)
	}
}

func TestDescribeTable_ReportsActiveSoWaitersWork(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	w := dynamodb.NewTableExistsWaiter(db)
	out, err := w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(e.name("RoomsTable"))}, 5e9)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Table.AttributeDefinitions) != 3 || aws.ToString(out.Table.TableArn) == "" {
		t.Fatalf("description lacks attribute definitions or ARN: %+v", out.Table)
	}
}

func TestCreateTables_IsIdempotent(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	if err := dynamo.CreateTables(ctx, db, tables(t, testTemplate), e.name); err != nil {
		t.Fatalf("second CreateTables: %v", err)
	}
	var mine []string
	pages := dynamodb.NewListTablesPaginator(db, &dynamodb.ListTablesInput{Limit: aws.Int32(2)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range out.TableNames {
			if strings.HasPrefix(name, e.prefix) {
				mine = append(mine, strings.TrimPrefix(name, e.prefix))
			}
		}
	}
	if got := fmt.Sprint(mine); got != "[ConnectionsTable LoginAttemptsTable MessagesTable RoomsTable]" {
		t.Fatalf("tables = %s", got)
	}
}

func TestThrottle_FailsChosenOperationOnChosenTable(t *testing.T) {
	e := setup(t, 0)
	srv := e.embedded(t)
	db := newClient(srv.URL(), 1) // no retries: every throttled call surfaces
	ctx := context.Background()
	getConn := func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("ConnectionsTable")), Key: map[string]types.AttributeValue{"connectionId": s("c")}})
		return err
	}
	getRoom := func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("RoomsTable")), Key: map[string]types.AttributeValue{"roomId": s("r")}})
		return err
	}
	putConn := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("ConnectionsTable")), Item: map[string]types.AttributeValue{"connectionId": s("c")}})
		return err
	}

	f := srv.Throttle("GetItem", e.name("ConnectionsTable"), 2)
	defer f.Remove()
	var pte *types.ProvisionedThroughputExceededException
	for i := range 2 {
		if err := getConn(); !errors.As(err, &pte) {
			t.Fatalf("throttled get %d: got %v, want ProvisionedThroughputExceededException", i, err)
		}
	}
	for name, call := range map[string]func() error{"third get": getConn, "other table": getRoom, "other operation": putConn} {
		if err := call(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if f.Hits() != 2 {
		t.Fatalf("hits = %d, want 2", f.Hits())
	}
}

func TestThrottle_SDKRetriesThroughShortBursts(t *testing.T) {
	e := setup(t, 0)
	srv := e.embedded(t)
	db := dynamo.NewClient(srv.URL(), "us-east-1", localCredentials, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxBackoff = time.Millisecond // the SDK's retries, without its waits
		})
	})
	ctx := context.Background()
	f := srv.Throttle("Query", "", 2)
	defer f.Remove()
	before := srv.Counts()
	_, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(e.name("MessagesTable")),
		KeyConditionExpression:    aws.String("roomId = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("room-1")},
	})
	if err != nil {
		t.Fatalf("query after two throttles: %v", err)
	}
	if got := srv.Counts().Sub(before)[dynamo.Call{Operation: "Query", Table: e.name("MessagesTable")}]; got != 3 {
		t.Fatalf("query requests = %d, want 3 (two throttled, one served)", got)
	}
}

func TestThrottle_UnlimitedUntilRemoved(t *testing.T) {
	e := setup(t, 0)
	srv := e.embedded(t)
	db := newClient(srv.URL(), 1)
	ctx := context.Background()
	put := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("MessagesTable")), Item: map[string]types.AttributeValue{"roomId": s("r"), "sk": s("1")}})
		return err
	}
	f := srv.Throttle("", e.name("MessagesTable"), -1)
	var pte *types.ProvisionedThroughputExceededException
	for i := range 5 {
		if err := put(); !errors.As(err, &pte) {
			t.Fatalf("put %d: got %v, want throttled", i, err)
		}
	}
	f.Remove()
	if err := put(); err != nil {
		t.Fatalf("put after Remove: %v", err)
	}
}

func TestCounts_PerOperationAndTableWithScanSeparate(t *testing.T) {
	e := setup(t, 0)
	srv, db := e.embedded(t), e.db
	ctx := context.Background()
	before := srv.Counts()
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("RoomsTable")), Key: map[string]types.AttributeValue{"roomId": s("r")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.name("RoomsTable"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	got := srv.Counts().Sub(before)
	want := dynamo.Counts{
		{Operation: "GetItem", Table: e.name("RoomsTable")}: 1,
		{Operation: "Scan", Table: e.name("RoomsTable")}:    1,
		{Operation: "ListTables"}:                           1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
	scans := got.Filter(func(c dynamo.Call) bool { return c.Operation == "Scan" }).Total()
	if scans != 1 || got.Total() != 3 {
		t.Fatalf("scans = %d total = %d, want 1 and 3", scans, got.Total())
	}
}

func TestUnsupportedOperation_IsATypedAPIError(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	_, err := db.DescribeContinuousBackups(context.Background(), &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(e.name("RoomsTable"))})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("got %v, want UnknownOperationException", err)
	}
}

func TestConcurrentTableCreationAndItemTraffic(t *testing.T) {
	e := setup(t, 0)
	srv, db := e.embedded(t), e.db
	ctx := context.Background()
	tt := tables(t, testTemplate)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Go(func() {
			prefix := fmt.Sprintf("p%d-", i)
			errs <- dynamo.CreateTables(ctx, db, tt, func(id string) string { return prefix + e.name(id) })
		})
		wg.Go(func() {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: room(fmt.Sprintf("room-%d", i), "o", int64(i))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Counts()[dynamo.Call{Operation: "CreateTable", Table: "p9-" + e.name("RoomsTable")}]; got != 1 {
		t.Fatalf("CreateTable p9-RoomsTable count = %d, want 1", got)
	}
}

func TestCreateTables_FromTheProjectTemplate(t *testing.T) {
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tt, err := tpl.Tables()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dynamo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	db := newClient(srv.URL(), 0)
	ctx := context.Background()
	if err := dynamo.CreateTables(ctx, db, tt, func(id string) string { return "ragchat-" + id }); err != nil {
		t.Fatal(err)
	}
	for _, table := range tt {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("ragchat-" + table.LogicalID)})
		if err != nil {
			t.Fatalf("%s: %v", table.LogicalID, err)
		}
		if len(out.Table.KeySchema) != len(table.KeySchema) || len(out.Table.GlobalSecondaryIndexes) != len(table.GSIs) {
			t.Errorf("%s: keys %d indexes %d, want %d and %d", table.LogicalID,
				len(out.Table.KeySchema), len(out.Table.GlobalSecondaryIndexes), len(table.KeySchema), len(table.GSIs))
		}
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("ragchat-" + table.LogicalID)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(ttl.TimeToLiveDescription.AttributeName); got != table.TTLAttribute {
			t.Errorf("%s: TTL attribute %q, want %q", table.LogicalID, got, table.TTLAttribute)
		}
	}
}

func TestValidation_RejectsWhatDynamoDBRejects(t *testing.T) {
	e := setup(t, 1)
	db := e.db
	ctx := context.Background()
	big := strings.Repeat("x", 400*1024)
	tests := []struct {
		name        string
		want        string
		dynaliteToo bool // dynalite accepts empty index keys, DynamoDB does not
		call        func() error
	}{
		{"item over 400 KB", "ValidationException", true, func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("MessagesTable")), Item: map[string]types.AttributeValue{
				"roomId": s("r"), "sk": s("1"), "text": s(big),
			}})
			return err
		}},
		{"batch put over 400 KB", "ValidationException", true, func() error {
			_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				e.name("MessagesTable"): {{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"roomId": s("r"), "sk": s("1"), "text": s(big)}}}},
			}})
			return err
		}},
		{"consistent read on a global index", "ValidationException", true, func() error {
			_, err := db.Query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(e.name("ConnectionsTable")),
				IndexName:                 aws.String("byRoom"),
				KeyConditionExpression:    aws.String("roomId = :r"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("room-1")},
				ConsistentRead:            aws.Bool(true),
			})
			return err
		}},
		{"empty string key", "ValidationException", true, func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: map[string]types.AttributeValue{"roomId": s("")}})
			return err
		}},
		{"missing key attribute", "ValidationException", true, func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: map[string]types.AttributeValue{"other": s("x")}})
			return err
		}},
		{"empty string index key", "ValidationException", false, func() error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("RoomsTable")), Item: room("room-x", "", 1)})
			return err
		}},
		{"empty string key on read", "ValidationException", true, func() error {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("RoomsTable")), Key: map[string]types.AttributeValue{"roomId": s("")}})
			return err
		}},
		{"unknown table", "ResourceNotFoundException", true, func() error {
			_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.name("NoSuchTable")), Key: map[string]types.AttributeValue{"roomId": s("x")}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.dynaliteToo {
				e.embedded(t)
			}
			err := tc.call()
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}

	item := map[string]types.AttributeValue{"roomId": s("r"), "sk": s("1"), "text": s(big[:400*1024-20])}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("MessagesTable")), Item: item}); err != nil {
		t.Fatalf("item just under 400 KB: %v", err)
	}
}

func TestControl_ThrottlesAndCountsFromAnotherProcess(t *testing.T) {
	e := setup(t, 0)
	srv := e.embedded(t)
	db := newClient(srv.URL(), 1)
	ctx := context.Background()
	ctl := dynamo.Control{URL: srv.URL()}
	table := e.name("ConnectionsTable")
	get := func() error {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"connectionId": s("c")}})
		return err
	}

	id, err := ctl.Throttle(ctx, "GetItem", table, -1)
	if err != nil {
		t.Fatal(err)
	}
	var pte *types.ProvisionedThroughputExceededException
	if err := get(); !errors.As(err, &pte) {
		t.Fatalf("get under fault: got %v, want ProvisionedThroughputExceededException", err)
	}
	if err := ctl.RemoveFault(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("get after RemoveFault: %v", err)
	}
	if err := ctl.RemoveFault(ctx, id); err == nil {
		t.Fatal("removing a removed fault: no error, want 404")
	}
	counts, err := ctl.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts[dynamo.Call{Operation: "GetItem", Table: table}]; got != 2 {
		t.Fatalf("GetItem count = %d, want 2", got)
	}
}

func TestControl_RejectsMalformedRequests(t *testing.T) {
	e := setup(t, 0)
	srv := e.embedded(t)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown path", http.MethodGet, "/_local/nothing", "", http.StatusNotFound},
		{"fault body not JSON", http.MethodPost, "/_local/faults", "x", http.StatusBadRequest},
		{"fault with n 0", http.MethodPost, "/_local/faults", `{"operation":"GetItem","n":0}`, http.StatusBadRequest},
		{"fault id not a number", http.MethodDelete, "/_local/faults/x", "", http.StatusBadRequest},
		{"list faults", http.MethodGet, "/_local/faults", "", http.StatusOK},
		{"DynamoDB with GET", http.MethodGet, "/", "", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

func TestPutItem_ReturnValuesAsDynamoDB(t *testing.T) {
	e := setup(t, 1)
	ctx := context.Background()
	put := func(text string, rv types.ReturnValue) (map[string]types.AttributeValue, error) {
		out, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:    aws.String(e.name("MessagesTable")),
			Item:         map[string]types.AttributeValue{"roomId": s("r"), "sk": s("1"), "text": s(text)},
			ReturnValues: rv,
		})
		if err != nil {
			return nil, err
		}
		return out.Attributes, nil
	}
	tests := []struct {
		name, text string
		rv         types.ReturnValue
		want       string
		wantErr    bool
	}{
		{"first put, ALL_OLD: nothing was there", "one", types.ReturnValueAllOld, "<nil>", false},
		{"default: nothing returned", "two", "", "<nil>", false},
		{"ALL_OLD: the replaced item", "three", types.ReturnValueAllOld, "{roomId:S(r) sk:S(1) text:S(two) }", false},
		{"ALL_NEW is not valid for PutItem", "four", types.ReturnValueAllNew, "", true},
	}
	for _, tc := range tests {
		got, err := put(tc.text, tc.rv)
		var apiErr smithy.APIError
		switch {
		case tc.wantErr && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException"):
			t.Fatalf("%s: got %v, want ValidationException", tc.name, err)
		case !tc.wantErr && err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case !tc.wantErr && render(got) != tc.want:
			t.Fatalf("%s: attributes %s, want %s", tc.name, render(got), tc.want)
		}
	}
}

func TestBatchWriteAndGet_RoundTripItems(t *testing.T) {
	e := setup(t, 0)
	ctx := context.Background()
	rooms := e.name("RoomsTable")
	var writes []types.WriteRequest
	for i := range 3 {
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: room(fmt.Sprintf("room-b%d", i), "o", int64(i))}})
	}
	if _, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{rooms: writes}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{rooms: {
		{DeleteRequest: &types.DeleteRequest{Key: map[string]types.AttributeValue{"roomId": s("room-b1")}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{rooms: {Keys: []map[string]types.AttributeValue{
		{"roomId": s("room-b0")}, {"roomId": s("room-b1")}, {"roomId": s("room-b2")},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(out.Responses[rooms], "roomId")
	sortStrings(got)
	if fmt.Sprint(got) != "[room-b0 room-b2]" {
		t.Fatalf("batch get = %v, want [room-b0 room-b2]", got)
	}
	for _, it := range out.Responses[rooms] {
		if got, want := render(it), render(room(ids([]map[string]types.AttributeValue{it}, "roomId")[0], "o", 0)); got[:10] != want[:10] {
			t.Fatalf("item %s, want the shape of %s", got, want)
		}
		if renderValue(it["members"]) != "L[]" {
			t.Fatalf("members = %s, want L[]", renderValue(it["members"]))
		}
	}
}

func TestTransactions_AreRefusedAsOnDynalite(t *testing.T) {
	e := setup(t, 1)
	ctx := context.Background()
	rooms := e.name("RoomsTable")
	_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(rooms), Item: room("room-t1", "o", 1)}},
	}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("TransactWriteItems: got %v, want UnknownOperationException", err)
	}
	_, err = e.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String(rooms), Key: map[string]types.AttributeValue{"roomId": s("room-t1")}}},
	}})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("TransactGetItems: got %v, want UnknownOperationException", err)
	}
}

func TestUpdateItem_ReturnValuesKeepEmptyLists(t *testing.T) {
	e := setup(t, 0)
	ctx := context.Background()
	rooms := e.name("RoomsTable")
	if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(rooms), Item: room("room-u", "o", 1)}); err != nil {
		t.Fatal(err)
	}
	empty := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	one := &types.AttributeValueMemberL{Value: []types.AttributeValue{s("agent")}}
	tests := []struct {
		name  string
		rv    types.ReturnValue
		value types.AttributeValue
		want  string
	}{
		{"UPDATED_OLD: the empty list before", types.ReturnValueUpdatedOld, one, "{members:L[] }"},
		{"UPDATED_NEW: the empty list after", types.ReturnValueUpdatedNew, empty, "{members:L[] }"},
		{"ALL_OLD: whole item with NULLs", types.ReturnValueAllOld, one, "{assignedAgent:NULL(true) createdAt:N(1) custId:NULL(true) lastActivityAt:N(1) members:L[] ownerKey:S(o) roomId:S(room-u) status:S(BOT) }"},
		{"ALL_NEW: whole item", types.ReturnValueAllNew, empty, "{assignedAgent:NULL(true) createdAt:N(1) custId:NULL(true) lastActivityAt:N(1) members:L[] ownerKey:S(o) roomId:S(room-u) status:S(BOT) }"},
		{"NONE: nothing", types.ReturnValueNone, one, "<nil>"},
	}
	for _, tc := range tests {
		out, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(rooms),
			Key:                       map[string]types.AttributeValue{"roomId": s("room-u")},
			UpdateExpression:          aws.String("SET members = :m"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":m": tc.value},
			ReturnValues:              tc.rv,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		attrs := out.Attributes
		if len(attrs) == 0 {
			attrs = nil
		}
		if got := render(attrs); got != tc.want {
			t.Fatalf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// DynamoDB leaves LastEvaluatedKey out of a Query's last page; the SDK's
// paginators (and the aws CLI) stop on that, and would loop for ever on an
// empty one.
func TestQuery_PaginatorStopsAfterTheLastPage(t *testing.T) {
	e := setup(t, 0)
	ctx := context.Background()
	if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.name("MessagesTable")),
		Item: map[string]types.AttributeValue{"roomId": s("room-1"), "sk": s("0000000000001#m-a")}}); err != nil {
		t.Fatal(err)
	}
	for _, room := range []string{"room-1", "room-empty"} {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(e.name("MessagesTable")),
			KeyConditionExpression:    aws.String("roomId = :r"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": s(room)},
		}
		p := dynamodb.NewQueryPaginator(e.db, in)
		pages := 0
		for p.HasMorePages() && pages < 3 {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if out.LastEvaluatedKey != nil {
				t.Errorf("%s: the last page carries LastEvaluatedKey %v", room, out.LastEvaluatedKey)
			}
			pages++
		}
		if pages != 1 {
			t.Errorf("%s: the paginator read %d pages (capped at 3), want 1", room, pages)
		}
	}
}

func TestUpdateItem_RemoveTakesAttributesOff(t *testing.T) {
	e := setup(t, 0)
	db := e.db
	ctx := context.Background()
	table := aws.String(e.name("LoginAttemptsTable"))
	key := map[string]types.AttributeValue{"attemptKey": s("k")}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: map[string]types.AttributeValue{
		"attemptKey": s("k"), "a": n(1), "b": n(2), "c": n(3),
	}}); err != nil {
		t.Fatal(err)
	}
	for _, rv := range []types.ReturnValue{types.ReturnValueAllNew, types.ReturnValueNone} {
		out, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: table, Key: key, ReturnValues: rv,
			UpdateExpression:         aws.String("SET c = :c REMOVE #a, b"),
			ExpressionAttributeNames: map[string]string{"#a": "a"}, ExpressionAttributeValues: map[string]types.AttributeValue{":c": n(4)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if rv == types.ReturnValueAllNew {
			if got, want := render(out.Attributes), "{attemptKey:S(k) c:N(4) }"; got != want {
				t.Fatalf("ALL_NEW attributes %s; want %s", got, want)
			}
		}
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := render(got.Item), "{attemptKey:S(k) c:N(4) }"; got != want {
			t.Fatalf("item after REMOVE (%s) %s; want %s", rv, got, want)
		}
	}
}
