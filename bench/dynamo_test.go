package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestItemSize_FollowsDynamoDBSizing(t *testing.T) {
	item := map[string]types.AttributeValue{
		"roomId":    &types.AttributeValueMemberS{Value: "room-52d2b5b6"},                                                   // 6 + 13
		"text":      &types.AttributeValueMemberS{Value: "관리비"},                                                             // 4 + 9
		"createdAt": &types.AttributeValueMemberN{Value: "1769145304307"},                                                   // 9 + 13 digits -> 8
		"members":   &types.AttributeValueMemberL{Value: nil},                                                               // 7 + 3
		"custId":    &types.AttributeValueMemberNULL{Value: true},                                                           // 6 + 1
		"tags":      &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}, // 4 + 3 + 1 + 2
	}
	if got, want := itemSize(item), 19+13+17+10+7+10; got != want {
		t.Errorf("itemSize = %d, want %d", got, want)
	}
}

func TestFindScans_ReportsSDKScansOnlyInNonTestCode(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a/scan.go":      "package a\nfunc f() { _, _ = db.Scan(ctx, &dynamodb.ScanInput{}) }\n",
		"a/bufio.go":     "package a\nfunc g() { for sc.Scan() {} }\n",
		"a/pager.go":     "package a\nvar p = dynamodb.NewScanPaginator\n",
		"a/other.go":     "package a\nvar x server.ScanInput\n",
		"a/scan_test.go": "package a\nfunc h() { db.Scan(ctx, in) }\n",
		".hidden/x.go":   "package x\nfunc f() { db.Scan(ctx, in) }\n",
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hits, parsed, err := FindScans(dir)
	if err != nil {
		t.Fatal(err)
	}
	if parsed != 4 {
		t.Errorf("parsed %d files, want 4", parsed)
	}
	want := map[string]bool{"a/scan.go:2 call db.Scan(...)": true, "a/scan.go:2 dynamodb.ScanInput": true, "a/pager.go:2 dynamodb.NewScanPaginator": true}
	for _, h := range hits {
		if !want[h.Pos+" "+h.What] {
			t.Errorf("unexpected hit %+v", h)
		}
		delete(want, h.Pos+" "+h.What)
	}
	for w := range want {
		t.Errorf("missed %s", w)
	}
}
