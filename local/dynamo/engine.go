package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/truora/minidyn/server"
)

// The engine is minidyn's server.Client, called through its Go API rather
// than through minidyn's own HTTP handler: that handler encodes attribute
// values with omitempty, so an empty list or map ({"L":[]}, {"M":{}}) goes
// out as {} and the SDK decodes garbage. Responses are encoded here with
// wire, which keeps them.

// errSerialization answers a body that does not decode into the operation's
// input shape.
var errSerialization = &smithy.GenericAPIError{Code: "SerializationException", Message: "request body does not match the operation's input"}

// run decodes body into the input shape of call, checks it with the
// handler's validations (for the checks DynamoDB makes and minidyn does
// not) and calls it.
func run[In, Out any](ctx context.Context, h *Handler, body []byte, call func(context.Context, *In) (*Out, error)) (*Out, error) {
	_, out, err := runInput(ctx, h, body, call)
	return out, err
}

// runInput is run that also returns the decoded input.
func runInput[In, Out any](ctx context.Context, h *Handler, body []byte, call func(context.Context, *In) (*Out, error)) (*In, *Out, error) {
	in, err := decode[In](h, body)
	if err != nil {
		return nil, nil, err
	}
	out, err := call(ctx, in)
	return in, out, err
}

// decode decodes and validates an operation's input.
func decode[In any](h *Handler, body []byte) (*In, error) {
	var in In
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, errSerialization
	}
	if err := h.validate(&in); err != nil {
		return nil, err
	}
	return &in, nil
}

// putItem runs PutItem with DynamoDB's ReturnValues: minidyn answers with
// the new item whatever was asked; DynamoDB returns nothing, or the old
// item for ALL_OLD (which the handler runs exclusively, so the read and the
// write are atomic).
func (h *Handler) putItem(ctx context.Context, body []byte) (map[string]*server.AttributeValue, error) {
	in, err := decode[server.PutItemInput](h, body)
	if err != nil {
		return nil, err
	}
	var old map[string]*server.AttributeValue
	switch in.ReturnValues {
	case "", ddbtypes.ReturnValueNone:
	case ddbtypes.ReturnValueAllOld:
		h.mu.Lock()
		keys := h.tables[aws.ToString(in.TableName)].keys
		h.mu.Unlock()
		key := map[string]*server.AttributeValue{}
		for _, k := range keys {
			key[k] = in.Item[k]
		}
		got, err := h.engine.GetItem(ctx, &server.GetItemInput{TableName: in.TableName, Key: key})
		if err != nil {
			return nil, err
		}
		old = got.Item
	default:
		return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "ReturnValues can only be ALL_OLD or NONE"}
	}
	if _, err := h.engine.PutItem(ctx, in); err != nil {
		return nil, err
	}
	return old, nil
}

// updateItem runs UpdateItem. For ReturnValues ALL_OLD, UPDATED_OLD and
// UPDATED_NEW minidyn returns deep copies that lose empty lists and maps,
// so the handler (running these exclusively) reads the item before and
// after the update and returns the named attributes from those reads.
func (h *Handler) updateItem(ctx context.Context, body []byte) (map[string]*server.AttributeValue, error) {
	in, err := decode[server.UpdateItemInput](h, body)
	if err != nil {
		return nil, err
	}
	removed := removedNames(aws.ToString(in.UpdateExpression), in.ExpressionAttributeNames)
	var before *server.GetItemOutput
	get := &server.GetItemInput{TableName: in.TableName, Key: in.Key}
	reread := false
	switch in.ReturnValues {
	case ddbtypes.ReturnValueAllOld, ddbtypes.ReturnValueUpdatedOld, ddbtypes.ReturnValueUpdatedNew:
		reread = true
		if before, err = h.engine.GetItem(ctx, get); err != nil {
			return nil, err
		}
	}
	out, err := h.engine.UpdateItem(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		if err := h.finishRemove(ctx, in, removed, out.Attributes); err != nil {
			return nil, err
		}
	}
	if !reread {
		return out.Attributes, nil
	}
	source := before.Item
	if in.ReturnValues == ddbtypes.ReturnValueUpdatedNew {
		after, err := h.engine.GetItem(ctx, get)
		if err != nil {
			return nil, err
		}
		source = after.Item
	}
	attrs := make(map[string]*server.AttributeValue, len(out.Attributes))
	for k := range out.Attributes {
		if v, ok := source[k]; ok {
			attrs[k] = v
		}
	}
	return attrs, nil
}

// itemOperation runs an item-level operation and returns the response body.
func (h *Handler) itemOperation(ctx context.Context, op string, body []byte) (any, error) {
	e := h.engine
	switch op {
	case "GetItem":
		return respond(ctx, h, body, e.GetItem, func(resp map[string]any, out *server.GetItemOutput) {
			setItem(resp, "Item", out.Item)
		})
	case "PutItem":
		return attributes(h.putItem(ctx, body))
	case "UpdateItem":
		return attributes(h.updateItem(ctx, body))
	case "DeleteItem":
		return respond(ctx, h, body, e.DeleteItem, func(resp map[string]any, out *server.DeleteItemOutput) {
			setItem(resp, "Attributes", out.Attributes)
		})
	case "Query":
		return respond(ctx, h, body, e.Query, setPage)
	case "Scan":
		return respond(ctx, h, body, e.Scan, func(resp map[string]any, out *server.ScanOutput) {
			setPage(resp, (*server.QueryOutput)(out)) // the same members
		})
	case "BatchGetItem":
		return respond(ctx, h, body, e.BatchGetItem, func(resp map[string]any, out *server.BatchGetItemOutput) {
			responses := map[string][]map[string]wire{}
			for table, items := range out.Responses {
				responses[table] = wireItems(items)
			}
			unprocessed := map[string]any{}
			for table, ka := range out.UnprocessedKeys {
				unprocessed[table] = map[string]any{
					"Keys":                     wireItems(ka.Keys),
					"ConsistentRead":           ka.ConsistentRead,
					"ExpressionAttributeNames": ka.ExpressionAttributeNames,
					"ProjectionExpression":     ka.ProjectionExpression,
				}
			}
			resp["Responses"], resp["UnprocessedKeys"] = responses, unprocessed
		})
	case "BatchWriteItem":
		return respond(ctx, h, body, e.BatchWriteItem, func(resp map[string]any, out *server.BatchWriteItemOutput) {
			unprocessed := map[string][]any{}
			for table, reqs := range out.UnprocessedItems {
				for _, r := range reqs {
					if r.PutRequest != nil {
						unprocessed[table] = append(unprocessed[table], map[string]any{"PutRequest": map[string]any{"Item": wireMap(r.PutRequest.Item)}})
					} else if r.DeleteRequest != nil {
						unprocessed[table] = append(unprocessed[table], map[string]any{"DeleteRequest": map[string]any{"Key": wireMap(r.DeleteRequest.Key)}})
					}
				}
			}
			resp["UnprocessedItems"] = unprocessed
		})
	default:
		return nil, fmt.Errorf("item operation %s: not dispatched", op)
	}
}

// respond runs an operation (decoded and validated by run) and lets fill
// put its output in the response body.
func respond[In, Out any](ctx context.Context, h *Handler, body []byte, call func(context.Context, *In) (*Out, error), fill func(resp map[string]any, out *Out)) (any, error) {
	out, err := run(ctx, h, body, call)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{}
	fill(resp, out)
	return resp, nil
}

// attributes is the response body of a write that returns an item's
// attributes (none when item is empty).
func attributes(item map[string]*server.AttributeValue, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	resp := map[string]any{}
	setItem(resp, "Attributes", item)
	return resp, nil
}

// setPage puts a page of a Query or Scan in resp.
func setPage(resp map[string]any, out *server.QueryOutput) {
	resp["Items"], resp["Count"] = wireItems(out.Items), out.Count
	setItem(resp, "LastEvaluatedKey", out.LastEvaluatedKey)
}

// tableOperation runs a table management operation and completes the table
// description minidyn returns: it leaves TableStatus, TableArn and the
// AttributeDefinitions out, which SDK waiters and tools need.
func (h *Handler) tableOperation(ctx context.Context, op string, body []byte) (any, error) {
	e := h.engine
	var (
		desc any
		key  = "TableDescription"
	)
	switch op {
	case "CreateTable":
		in, out, err := runInput(ctx, h, body, e.CreateTable)
		if err != nil {
			return nil, err
		}
		meta := tableMeta{attributes: in.AttributeDefinitions, keys: keyNames(in.KeySchema), gsis: map[string][]string{}}
		for _, g := range in.GlobalSecondaryIndexes {
			meta.gsis[aws.ToString(g.IndexName)] = keyNames(g.KeySchema)
		}
		h.mu.Lock()
		h.tables[aws.ToString(in.TableName)] = meta
		h.mu.Unlock()
		desc = out.TableDescription
	case "UpdateTable":
		in, out, err := runInput(ctx, h, body, e.UpdateTable)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		meta := h.tables[aws.ToString(in.TableName)]
		if meta.gsis == nil {
			meta.gsis = map[string][]string{}
		}
		meta.attributes = mergeAttributes(meta.attributes, in.AttributeDefinitions)
		for _, u := range in.GlobalSecondaryIndexUpdates {
			if u.Create != nil {
				meta.gsis[aws.ToString(u.Create.IndexName)] = keyNames(u.Create.KeySchema)
			}
			if u.Delete != nil {
				delete(meta.gsis, aws.ToString(u.Delete.IndexName))
			}
		}
		h.tables[aws.ToString(in.TableName)] = meta
		h.mu.Unlock()
		desc = out.TableDescription
	case "DescribeTable":
		out, err := run(ctx, h, body, e.DescribeTable)
		if err != nil {
			return nil, err
		}
		desc, key = out.Table, "Table"
	case "DeleteTable":
		in, out, err := runInput(ctx, h, body, e.DeleteTable)
		if err != nil {
			return nil, err
		}
		h.mu.Lock()
		delete(h.tables, aws.ToString(in.TableName))
		delete(h.ttl, aws.ToString(in.TableName))
		h.mu.Unlock()
		desc = out.TableDescription
	default:
		return nil, fmt.Errorf("table operation %s: not dispatched", op)
	}
	d, err := h.completeDescription(op, desc)
	if err != nil {
		return nil, err
	}
	return map[string]any{key: d}, nil
}

func keyNames(ks []ddbtypes.KeySchemaElement) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = aws.ToString(k.AttributeName)
	}
	return out
}

// mergeAttributes adds or replaces definitions by attribute name.
func mergeAttributes(have, add []ddbtypes.AttributeDefinition) []ddbtypes.AttributeDefinition {
	out := append([]ddbtypes.AttributeDefinition(nil), have...)
	for _, a := range add {
		replaced := false
		for i := range out {
			if aws.ToString(out[i].AttributeName) == aws.ToString(a.AttributeName) {
				out[i], replaced = a, true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}

// completeDescription turns minidyn's table description into a JSON object
// without null members and with TableStatus (ACTIVE; DELETING for
// DeleteTable), TableArn and AttributeDefinitions.
func (h *Handler) completeDescription(op string, desc any) (map[string]any, error) {
	raw, err := json.Marshal(desc)
	if err != nil {
		return nil, fmt.Errorf("encode table description: %w", err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("decode table description: %w", err)
	}
	for k, v := range d {
		if v == nil {
			delete(d, k)
		}
	}
	name, _ := d["TableName"].(string)
	d["TableStatus"] = "ACTIVE"
	if op == "DeleteTable" {
		d["TableStatus"] = "DELETING"
	}
	d["TableArn"] = "arn:aws:dynamodb:us-east-1:000000000000:table/" + name
	h.mu.Lock()
	if attrs := h.tables[name].attributes; len(attrs) > 0 {
		d["AttributeDefinitions"] = attrs
	}
	h.mu.Unlock()
	return d, nil
}

// writeEngineError writes an error returned by the engine the way DynamoDB
// does: 400 with the error type, 500 for InternalServerError, and the
// cancellation reasons or the item where the operation asked for them.
func writeEngineError(w http.ResponseWriter, err error) {
	body := map[string]any{"message": err.Error()}
	status := http.StatusBadRequest
	var (
		tce    *ddbtypes.TransactionCanceledException
		ccf    *ddbtypes.ConditionalCheckFailedException
		apiErr smithy.APIError
	)
	switch {
	case errors.As(err, &tce):
		reasons := make([]map[string]any, len(tce.CancellationReasons))
		for i, r := range tce.CancellationReasons {
			reasons[i] = map[string]any{"Code": aws.ToString(r.Code)}
			if r.Message != nil {
				reasons[i]["Message"] = *r.Message
			}
			if r.Item != nil {
				reasons[i]["Item"] = ddbWireMap(r.Item)
			}
		}
		body["__type"], body["message"], body["CancellationReasons"] = typePrefix+"TransactionCanceledException", aws.ToString(tce.Message), reasons
	case errors.As(err, &ccf):
		body["__type"], body["message"] = typePrefix+"ConditionalCheckFailedException", aws.ToString(ccf.Message)
		if ccf.Item != nil {
			body["Item"] = ddbWireMap(ccf.Item)
		}
	case errors.As(err, &apiErr):
		body["__type"], body["message"] = typePrefix+apiErr.ErrorCode(), apiErr.ErrorMessage()
		if apiErr.ErrorCode() == "InternalServerError" {
			status = http.StatusInternalServerError
		}
	default:
		body["__type"] = typePrefix + "ValidationException"
	}
	writeJSONStatus(w, status, body)
}

// typePrefix is the namespace DynamoDB puts before error types in __type.
const typePrefix = "com.amazonaws.dynamodb.v20120810#"

// wire encodes a minidyn attribute value as DynamoDB JSON, keeping empty
// lists, maps and strings.
type wire struct{ v *server.AttributeValue }

// MarshalJSON implements json.Marshaler.
func (a wire) MarshalJSON() ([]byte, error) {
	v := a.v
	var out any
	switch {
	case v == nil:
		return nil, errors.New("attribute value is null")
	case v.S != nil:
		out = map[string]string{"S": *v.S}
	case v.N != nil:
		out = map[string]string{"N": *v.N}
	case v.B != nil:
		out = map[string][]byte{"B": v.B}
	case v.BOOL != nil:
		out = map[string]bool{"BOOL": *v.BOOL}
	case v.NULL != nil:
		out = map[string]bool{"NULL": *v.NULL}
	case v.SS != nil:
		out = map[string][]string{"SS": derefAll(v.SS)}
	case v.NS != nil:
		out = map[string][]string{"NS": derefAll(v.NS)}
	case v.BS != nil:
		out = map[string][][]byte{"BS": v.BS}
	case v.L != nil:
		list := make([]wire, len(v.L))
		for i, e := range v.L {
			list[i] = wire{e}
		}
		out = map[string][]wire{"L": list}
	case v.M != nil:
		out = map[string]map[string]wire{"M": wireMap(v.M)}
	default:
		return nil, errors.New("attribute value has no type")
	}
	return json.Marshal(out)
}

func derefAll(ps []*string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = aws.ToString(p)
	}
	return out
}

func wireMap(m map[string]*server.AttributeValue) map[string]wire {
	out := make(map[string]wire, len(m))
	for k, v := range m {
		out[k] = wire{v}
	}
	return out
}

// wireItems encodes a list of items; never nil, so "Items" is always a list.
func wireItems(items []map[string]*server.AttributeValue) []map[string]wire {
	out := make([]map[string]wire, len(items))
	for i, it := range items {
		out[i] = wireMap(it)
	}
	return out
}

// setItem sets resp[key] to the item unless it is empty (DynamoDB leaves the
// member out, e.g. GetItem of a missing key).
func setItem(resp map[string]any, key string, item map[string]*server.AttributeValue) {
	// DynamoDB leaves an empty map out: an empty LastEvaluatedKey would
	// tell the SDK's paginators that more pages follow, for ever.
	if len(item) > 0 {
		resp[key] = wireMap(item)
	}
}

// ddbWireMap converts an SDK attribute map (as minidyn puts in errors) to
// its wire encoding.
func ddbWireMap(m map[string]ddbtypes.AttributeValue) map[string]wire {
	out := make(map[string]wire, len(m))
	for k, v := range m {
		out[k] = wire{fromSDK(v)}
	}
	return out
}

func fromSDK(av ddbtypes.AttributeValue) *server.AttributeValue {
	switch v := av.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return &server.AttributeValue{S: aws.String(v.Value)}
	case *ddbtypes.AttributeValueMemberN:
		return &server.AttributeValue{N: aws.String(v.Value)}
	case *ddbtypes.AttributeValueMemberB:
		return &server.AttributeValue{B: v.Value}
	case *ddbtypes.AttributeValueMemberBOOL:
		return &server.AttributeValue{BOOL: aws.Bool(v.Value)}
	case *ddbtypes.AttributeValueMemberNULL:
		return &server.AttributeValue{NULL: aws.Bool(v.Value)}
	case *ddbtypes.AttributeValueMemberSS:
		return &server.AttributeValue{SS: aws.StringSlice(v.Value)}
	case *ddbtypes.AttributeValueMemberNS:
		return &server.AttributeValue{NS: aws.StringSlice(v.Value)}
	case *ddbtypes.AttributeValueMemberBS:
		return &server.AttributeValue{BS: v.Value}
	case *ddbtypes.AttributeValueMemberL:
		list := make([]*server.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			list[i] = fromSDK(e)
		}
		return &server.AttributeValue{L: list}
	case *ddbtypes.AttributeValueMemberM:
		m := make(map[string]*server.AttributeValue, len(v.Value))
		for k, e := range v.Value {
			m[k] = fromSDK(e)
		}
		return &server.AttributeValue{M: m}
	default:
		return nil
	}
}
