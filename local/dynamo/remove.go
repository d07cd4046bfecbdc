package dynamo

import (
	"context"
	"regexp"
	"strings"

	"github.com/truora/minidyn/server"
)

// minidyn evaluates REMOVE of a top-level attribute but never takes the
// attribute off the stored item (its interpreter writes back only what
// remains), so an UpdateItem with REMOVE is finished here: the removed
// attributes are deleted from the updated item, which is written back, and
// dropped from the returned attributes. Such updates run exclusively (see
// Handler.ServeHTTP), so the read and the write back are atomic.

// clauseRE finds the clause keywords of an update expression.
var clauseRE = regexp.MustCompile(`(?i)\b(SET|REMOVE|ADD|DELETE)\b`)

// removedNames returns the top-level attribute names the REMOVE clauses of
// expr remove, with #placeholders resolved through names. Nested paths
// (a.b, a[0]) are left to minidyn, which handles them.
func removedNames(expr string, names map[string]string) []string {
	locs := clauseRE.FindAllStringIndex(expr, -1)
	var out []string
	for i, loc := range locs {
		if !strings.EqualFold(expr[loc[0]:loc[1]], "REMOVE") {
			continue
		}
		end := len(expr)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		for _, p := range strings.Split(expr[loc[1]:end], ",") {
			p = strings.TrimSpace(p)
			if p == "" || strings.ContainsAny(p, ".[") {
				continue
			}
			if n, ok := names[p]; ok {
				p = n
			}
			out = append(out, p)
		}
	}
	return out
}

// hasRemove reports whether an update expression has a REMOVE clause.
func hasRemove(expr string) bool {
	for _, m := range clauseRE.FindAllString(expr, -1) {
		if strings.EqualFold(m, "REMOVE") {
			return true
		}
	}
	return false
}

// finishRemove deletes the attributes in removed from the item at in.Key
// after minidyn updated it, and from attrs (what the update returns).
func (h *Handler) finishRemove(ctx context.Context, in *server.UpdateItemInput, removed []string, attrs map[string]*server.AttributeValue) error {
	after, err := h.engine.GetItem(ctx, &server.GetItemInput{TableName: in.TableName, Key: in.Key})
	if err != nil || after.Item == nil {
		return err
	}
	stale := false
	for _, n := range removed {
		if _, ok := after.Item[n]; ok {
			delete(after.Item, n)
			stale = true
		}
		delete(attrs, n)
	}
	if !stale {
		return nil
	}
	_, err = h.engine.PutItem(ctx, &server.PutItemInput{TableName: in.TableName, Item: after.Item})
	return err
}
