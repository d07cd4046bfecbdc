package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB omits LastEvaluatedKey from the last page of a Query; the SDK's
// paginators stop on that. An empty LastEvaluatedKey
// object instead means "more pages" to them, and they loop for ever.
func TestDynamo_QueryPaginatorStopsAfterTheLastPage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(h.st.Tables.Messages),
		KeyConditionExpression:    aws.String("roomId = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: "room-" + randHex(4)}},
	}
	out, err := h.st.DB.Query(ctx, in)
	must(t, err)
	if out.LastEvaluatedKey != nil {
		t.Errorf("a complete Query answered LastEvaluatedKey %v; DynamoDB leaves it out", out.LastEvaluatedKey)
	}
	p := dynamodb.NewQueryPaginator(h.st.DB, in)
	pages := 0
	for p.HasMorePages() && pages < 3 {
		_, err := p.NextPage(ctx)
		must(t, err)
		pages++
	}
	if pages != 1 {
		t.Fatalf("the SDK paginator read %d pages of an empty result (capped at 3), want 1", pages)
	}
}
