package dynamo

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	"github.com/truora/minidyn/server"
)

// maxItemBytes is DynamoDB's item size limit (400 KB).
const maxItemBytes = 400 * 1024

// validate makes the checks DynamoDB (and dynalite) make on a request and
// minidyn does not, so that code which passes here does not fail on AWS:
// the item size limit on writes, no empty string or binary in a table or
// index key attribute, and no strongly consistent reads on a global
// secondary index.
func (h *Handler) validate(in any) error {
	switch in := in.(type) {
	case *server.PutItemInput:
		return h.checkItem(aws.ToString(in.TableName), in.Item)
	case *server.GetItemInput:
		return h.checkKey(aws.ToString(in.TableName), in.Key)
	case *server.DeleteItemInput:
		return h.checkKey(aws.ToString(in.TableName), in.Key)
	case *server.UpdateItemInput:
		return h.checkKey(aws.ToString(in.TableName), in.Key)
	case *server.BatchWriteItemInput:
		for table, reqs := range in.RequestItems {
			for _, r := range reqs {
				var err error
				if r.PutRequest != nil {
					err = h.checkItem(table, r.PutRequest.Item)
				} else if r.DeleteRequest != nil {
					err = h.checkKey(table, r.DeleteRequest.Key)
				}
				if err != nil {
					return err
				}
			}
		}
	case *server.QueryInput:
		return h.checkIndexRead(aws.ToString(in.TableName), aws.ToString(in.IndexName), aws.ToBool(in.ConsistentRead))
	case *server.ScanInput:
		return h.checkIndexRead(aws.ToString(in.TableName), aws.ToString(in.IndexName), aws.ToBool(in.ConsistentRead))
	}
	return nil
}

func (h *Handler) checkIndexRead(table, index string, consistent bool) error {
	if !consistent || index == "" {
		return nil
	}
	h.mu.Lock()
	_, global := h.tables[table].gsis[index]
	h.mu.Unlock()
	if global {
		return &smithy.GenericAPIError{Code: "ValidationException", Message: "Consistent reads are not supported on global secondary indexes"}
	}
	return nil
}

// checkItem checks an item to write: its size, and that no table or index
// key attribute it carries is an empty string or binary.
func (h *Handler) checkItem(table string, item map[string]*server.AttributeValue) error {
	if itemSize(item) > maxItemBytes {
		return &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
	}
	if err := h.checkKey(table, item); err != nil {
		return err
	}
	h.mu.Lock()
	gsis := h.tables[table].gsis
	h.mu.Unlock()
	for index, keys := range gsis {
		for _, k := range keys {
			if v, ok := item[k]; ok && emptyKeyValue(v) {
				return &smithy.GenericAPIError{Code: "ValidationException", Message: "One or more parameter values are not valid. " +
					"A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. " +
					"IndexName: " + index + ", IndexKey: " + k}
			}
		}
	}
	return nil
}

// checkKey checks that no key attribute of the table is an empty string or
// binary in m (a key or an item).
func (h *Handler) checkKey(table string, m map[string]*server.AttributeValue) error {
	h.mu.Lock()
	keys := h.tables[table].keys
	h.mu.Unlock()
	for _, k := range keys {
		if v, ok := m[k]; ok && emptyKeyValue(v) {
			return &smithy.GenericAPIError{Code: "ValidationException", Message: "One or more parameter values are not valid. " +
				"The AttributeValue for a key attribute cannot contain an empty string value. Key: " + k}
		}
	}
	return nil
}

func emptyKeyValue(v *server.AttributeValue) bool {
	return v != nil && ((v.S != nil && *v.S == "") || (v.B != nil && len(v.B) == 0))
}

// itemSize is an item's size as DynamoDB bills and limits it: attribute
// names plus values, strings and binaries by their length in bytes,
// numbers by about one byte per two significant digits plus one, BOOL and
// NULL one byte, lists and maps three bytes plus one per element.
func itemSize(item map[string]*server.AttributeValue) int {
	size := 0
	for name, v := range item {
		size += len(name) + valueSize(v)
	}
	return size
}

func valueSize(v *server.AttributeValue) int {
	switch {
	case v == nil:
		return 0
	case v.S != nil:
		return len(*v.S)
	case v.N != nil:
		return numberSize(*v.N)
	case v.B != nil:
		return len(v.B)
	case v.BOOL != nil, v.NULL != nil:
		return 1
	case v.SS != nil:
		size := 0
		for _, s := range v.SS {
			size += len(aws.ToString(s))
		}
		return size
	case v.NS != nil:
		size := 0
		for _, n := range v.NS {
			size += numberSize(aws.ToString(n))
		}
		return size
	case v.BS != nil:
		size := 0
		for _, b := range v.BS {
			size += len(b)
		}
		return size
	case v.L != nil:
		size := 3
		for _, e := range v.L {
			size += 1 + valueSize(e)
		}
		return size
	case v.M != nil:
		size := 3
		for k, e := range v.M {
			size += 1 + len(k) + valueSize(e)
		}
		return size
	}
	return 0
}

func numberSize(n string) int {
	mantissa, _, _ := strings.Cut(strings.ToLower(n), "e")
	digits := strings.Trim(strings.NewReplacer("-", "", "+", "", ".", "").Replace(mantissa), "0")
	return (len(digits)+1)/2 + 1
}
