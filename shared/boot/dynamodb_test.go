package boot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A DynamoDB request whose first try hangs (a connection that never
// answers) is tried again once that try's bound has passed, and succeeds,
// with no deadline on its context.
func TestDynamoDBRetries_AHungTryIsBoundedAndTriedAgain(t *testing.T) {
	var tries atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries.Add(1) == 1 {
			select { // hang until the client gives up on this try
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"Item":{"connectionId":{"S":"c-1"}}}`))
	}))
	defer srv.Close()
	defer close(release)

	client := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
	}, func(o *dynamodb.Options) { dynamoDBRetries(o, 200*time.Millisecond) })
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String("Connections"),
		Key:       map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: "c-1"}},
	})
	if err != nil {
		t.Fatalf("GetItem after a hung try: %v", err)
	}
	if got := out.Item["connectionId"]; got == nil || got.(*types.AttributeValueMemberS).Value != "c-1" {
		t.Fatalf("item %v", out.Item)
	}
	if n := tries.Load(); n != 2 {
		t.Fatalf("%d tries, want 2 (the hung one, then the answered one)", n)
	}
}

func TestDynamoDBRetries_BoundsEachTryByTheAttemptTimeout(t *testing.T) {
	var o dynamodb.Options
	DynamoDBRetries(&o)
	c, ok := o.HTTPClient.(*awshttp.BuildableClient)
	if !ok || c.GetTimeout() != DynamoDBAttemptTimeout {
		t.Fatalf("HTTP client %T, want a BuildableClient bounded by %v", o.HTTPClient, DynamoDBAttemptTimeout)
	}
	if n := o.Retryer.MaxAttempts(); n != DynamoDBAttempts {
		t.Fatalf("%d attempts, want %d", n, DynamoDBAttempts)
	}
}
