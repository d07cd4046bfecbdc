package bench

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ragchat/ragchat/internal/samtemplate"
	"github.com/ragchat/ragchat/local/dynamo"
)

// ItemSizes are the sizes of the items one answer reads and writes, as
// DynamoDB meters them, for turning request counts into request units.
type ItemSizes struct {
	// Bytes holds, per table logical ID, the sizes of the items an answer
	// touches (Messages: the question and the answer).
	Bytes map[string][]int
	// GSIs is the number of global secondary indexes of each table (a write
	// to an item they project is also written to each of them).
	GSIs map[string]int
	// Logical maps physical table names to logical IDs.
	Logical map[string]string
}

// measureItems reads back the items of the last answer in room: the
// room's connection, the room, its last question and answer.
func measureItems(ctx context.Context, env *Env, room string) (ItemSizes, error) {
	tpl, err := samtemplate.Load(filepath.Join(env.Root, "template.yaml"))
	if err != nil {
		return ItemSizes{}, fmt.Errorf("template: %w", err)
	}
	tables, err := tpl.Tables()
	if err != nil {
		return ItemSizes{}, fmt.Errorf("template: %w", err)
	}
	sz := ItemSizes{Bytes: map[string][]int{}, GSIs: map[string]int{}, Logical: env.Logical()}
	byID := map[string]samtemplate.Table{}
	phys := map[string]string{}
	for name, id := range sz.Logical {
		phys[id] = name
	}
	for _, t := range tables {
		byID[t.LogicalID] = t
		sz.GSIs[t.LogicalID] = len(t.GSIs)
	}
	db := env.Stack.DB
	hash := func(id string) string { return byID[id].KeySchema[0].Name }

	room0, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(phys["RoomsTable"]),
		Key:       map[string]types.AttributeValue{hash("RoomsTable"): &types.AttributeValueMemberS{Value: room}},
	})
	if err != nil {
		return sz, fmt.Errorf("read room %s: %w", room, err)
	}
	sz.Bytes["RoomsTable"] = []int{itemSize(room0.Item)}

	msgs, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(phys["MessagesTable"]),
		KeyConditionExpression:    aws.String("#k = :v"),
		ExpressionAttributeNames:  map[string]string{"#k": hash("MessagesTable")},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: room}},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(2),
	})
	if err != nil {
		return sz, fmt.Errorf("read messages of %s: %w", room, err)
	}
	for _, it := range msgs.Items {
		sz.Bytes["MessagesTable"] = append(sz.Bytes["MessagesTable"], itemSize(it))
	}

	conns := byID["ConnectionsTable"]
	if len(conns.GSIs) > 0 {
		idx := conns.GSIs[0]
		out, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(phys["ConnectionsTable"]),
			IndexName:                 aws.String(idx.Name),
			KeyConditionExpression:    aws.String("#k = :v"),
			ExpressionAttributeNames:  map[string]string{"#k": idx.KeySchema[0].Name},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: room}},
		})
		if err != nil {
			return sz, fmt.Errorf("read connections of %s: %w", room, err)
		}
		for _, it := range out.Items {
			sz.Bytes["ConnectionsTable"] = append(sz.Bytes["ConnectionsTable"], itemSize(it))
		}
	}
	return sz, nil
}

// Units turns the requests calls counted into request units (units of
// each call, summed).
func (s ItemSizes) Units(calls dynamo.Counts) (rru, wru float64) {
	for c, n := range calls {
		r, w := s.units(c, n)
		rru += r
		wru += w
	}
	return rru, wru
}

// units turns n requests of one call into request units: a strongly
// consistent GetItem costs 1 RRU per 4 KB, a Query (index queries are
// eventually consistent) 0.5 RRU per 4 KB of items returned, a write 1 WRU
// per KB of the item, once for the table and once per GSI. Sizes are the
// measured items of the call's table (for Messages, the question and the
// answer, written once each per answer).
func (s ItemSizes) units(c dynamo.Call, n int) (rru, wru float64) {
	table := s.Logical[c.Table]
	sizes := s.Bytes[table]
	if len(sizes) == 0 {
		sizes = []int{1}
	}
	total := 0
	for _, b := range sizes {
		total += b
	}
	switch c.Operation {
	case "GetItem":
		return float64(n) * math.Ceil(float64(sizes[0])/4096), 0
	case "Query":
		return float64(n) * 0.5 * math.Ceil(float64(max(total, 1))/4096), 0
	case "PutItem", "UpdateItem", "DeleteItem":
		per := 0.0
		for _, b := range sizes {
			per += math.Ceil(float64(b) / 1024)
		}
		per /= float64(len(sizes))
		return 0, float64(n) * per * float64(1+s.GSIs[table])
	}
	return 0, 0
}

// itemSize is an item's size as DynamoDB meters it: attribute names plus
// values (strings and binaries by length, numbers about one byte per two
// significant digits plus one, lists and maps 3 bytes plus one per
// element plus the elements).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(x.Value), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(x.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, e := range x.Value {
			n += len(e)
		}
		return n
	}
	return 0
}

// countsTable lists calls by operation and table logical ID.
func countsTable(c dynamo.Counts, logical map[string]string) *Table {
	t := &Table{Header: []string{"operation", "table", "requests"}}
	keys := make([]dynamo.Call, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dynamo.Call) int {
		return strings.Compare(a.Operation+a.Table, b.Operation+b.Table)
	})
	for _, k := range keys {
		name := logical[k.Table]
		if name == "" {
			name = k.Table
		}
		t.Add(k.Operation, name, c[k])
	}
	t.Add("**total**", "", c.Total())
	return t
}

// callsString lists calls compactly: "GetItem UsersTable, 2 PutItem MessagesTable".
func callsString(c dynamo.Counts, logical map[string]string) string {
	var parts []string
	for _, row := range countsTable(c, logical).Rows {
		if row[1] == "" {
			continue
		}
		n := ""
		if row[2] != "1" {
			n = row[2] + "× "
		}
		parts = append(parts, n+row[0]+" "+strings.TrimSuffix(row[1], "Table"))
	}
	return strings.Join(parts, ", ")
}

// ScanHit is a place in non-test Go code that scans a DynamoDB table.
type ScanHit struct {
	Pos  string // file:line, relative to the root
	What string // the code
}

// FindScans parses every non-test .go file under root (skipping hidden,
// testdata and node_modules directories) and returns each call of a method
// named Scan with two or more arguments (the SDK client's Scan(ctx, input,
// ...), not bufio's Scan()) and each use of the SDK's dynamodb.ScanInput
// or dynamodb.NewScanPaginator. It also reports how many files it parsed.
func FindScans(root string) ([]ScanHit, int, error) {
	var hits []ScanHit
	files := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		add := func(n ast.Node, what string) {
			hits = append(hits, ScanHit{Pos: fmt.Sprintf("%s:%d", rel, fset.Position(n.Pos()).Line), What: what})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Scan" && len(x.Args) >= 2 {
					add(x, "call "+exprString(sel)+"(...)")
				}
			case *ast.SelectorExpr:
				if pkg, ok := x.X.(*ast.Ident); ok && pkg.Name == "dynamodb" && (x.Sel.Name == "ScanInput" || x.Sel.Name == "NewScanPaginator") {
					add(x, exprString(x))
				}
			}
			return true
		})
		return nil
	})
	return hits, files, err
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	}
	return "…"
}
