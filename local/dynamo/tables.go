package dynamo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ragchat/ragchat/internal/samtemplate"
)

// NewClient returns a DynamoDB client for the server at endpoint (the
// embedded one's URL, an emulator's or AWS's) in region, signing with
// creds, changed by optFns.
func NewClient(endpoint, region string, creds aws.Credentials, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
	}, optFns...)
}

// activePoll is how often CreateTables asks whether a new table is ACTIVE
// (dynalite and DynamoDB Local create tables asynchronously).
const activePoll = 25 * time.Millisecond

// CreateTables creates every table under the physical name nameFor(LogicalID),
// on-demand, waits until they and their indexes are usable, and enables
// their TTL. All tables are requested before any is waited for, so servers
// that create tables asynchronously (dynalite, DynamoDB Local, AWS) create
// them in parallel. It is idempotent: a table that already exists is left
// as it is. A server that rejects UpdateTimeToLive (dynalite) is tolerated
// and logged, since ragchat never relies on TTL deletion.
func CreateTables(ctx context.Context, db *dynamodb.Client, tables []samtemplate.Table, nameFor func(logicalID string) string) error {
	for _, t := range tables {
		name := nameFor(t.LogicalID)
		_, err := db.CreateTable(ctx, createTableInput(t, name))
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s (%s): %w", name, t.LogicalID, err)
		}
	}
	for _, t := range tables {
		name := nameFor(t.LogicalID)
		if err := waitActive(ctx, db, name); err != nil {
			return err
		}
		if t.TTLAttribute == "" {
			continue
		}
		if err := enableTTL(ctx, db, name, t.TTLAttribute); err != nil {
			return err
		}
	}
	return nil
}

// createTableInput is the on-demand CreateTable request for t named name.
func createTableInput(t samtemplate.Table, name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   keySchema(t.KeySchema),
	}
	attrs := make([]string, 0, len(t.Attributes))
	for a := range t.Attributes {
		attrs = append(attrs, a)
	}
	sort.Strings(attrs)
	for _, a := range attrs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a),
			AttributeType: types.ScalarAttributeType(t.Attributes[a]),
		})
	}
	for _, g := range t.GSIs {
		proj := &types.Projection{ProjectionType: types.ProjectionType(g.Projection)}
		if len(g.NonKeyAttributes) > 0 {
			proj.NonKeyAttributes = g.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(g.Name),
			KeySchema:  keySchema(g.KeySchema),
			Projection: proj,
		})
	}
	return in
}

func keySchema(ks []samtemplate.KeyElement) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, len(ks))
	for i, k := range ks {
		out[i] = types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: types.KeyType(k.Type)}
	}
	return out
}

// enableTTL turns on the table's TTL on attr unless it is on already. A
// server that rejects the calls is logged and tolerated.
func enableTTL(ctx context.Context, db *dynamodb.Client, name, attr string) error {
	var apiErr smithy.APIError
	d, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	switch {
	case errors.As(err, &apiErr):
		ttlUnsupported(ctx, db, name, attr, apiErr)
		return nil
	case err != nil:
		return fmt.Errorf("describe time to live of %s: %w", name, err)
	}
	if ttl := d.TimeToLiveDescription; ttl != nil && aws.ToString(ttl.AttributeName) == attr &&
		(ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabled || ttl.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr),
			Enabled:       aws.Bool(true),
		},
	})
	switch {
	case errors.As(err, &apiErr):
		ttlUnsupported(ctx, db, name, attr, apiErr)
	case err != nil:
		return fmt.Errorf("enable time to live on %s: %w", name, err)
	}
	return nil
}

// ttlLogged holds the endpoints whose TTL rejection has been logged.
var ttlLogged sync.Map

// ttlUnsupported logs, once per endpoint and process, that the server
// rejected a TTL call (test suites create tables many times).
func ttlUnsupported(ctx context.Context, db *dynamodb.Client, table, attr string, apiErr smithy.APIError) {
	endpoint := aws.ToString(db.Options().BaseEndpoint)
	if _, seen := ttlLogged.LoadOrStore(endpoint, true); seen {
		return
	}
	slog.InfoContext(ctx, "time to live not enabled: the server rejects it, items do not expire (logged once per endpoint)",
		"endpoint", endpoint, "table", table, "attribute", attr, "error", apiErr.ErrorCode())
}

// waitActive polls DescribeTable until the table and its indexes are ACTIVE.
// An empty status counts as active (emulators that do not report one).
func waitActive(ctx context.Context, db *dynamodb.Client, name string) error {
	for {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe table %s: %w", name, err)
		}
		if isActive(out.Table) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("table %s not active (%s): %w", name, out.Table.TableStatus, ctx.Err())
		case <-time.After(activePoll):
		}
	}
}

func isActive(d *types.TableDescription) bool {
	if d == nil {
		return false
	}
	if d.TableStatus != "" && d.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range d.GlobalSecondaryIndexes {
		if g.IndexStatus != "" && g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}
