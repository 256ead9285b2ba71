package xmppauth_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// TestConfirmRoundTripTime times XEP-0070 round trips through the real
// Prosody (component → user's client → component), each with a new
// transaction id so nothing is cached, and prints the median and p99.
func TestConfirmRoundTripTime(t *testing.T) {
	ctx := testContext(t)
	client, _ := newUser(t, stack.srv, "roundtrip", xmppclient.Accept)
	const n = 200
	times := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		err := stack.configured.Confirm(ctx, auth.ConfirmRequest{
			JID: client.JID(), TransactionID: fmt.Sprintf("rt-%d", i), Method: "GET", URL: "https://media.example.test/x@localhost",
		})
		if err != nil {
			t.Fatalf("round trip %d: %v", i, err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	t.Logf("%d XEP-0070 round trips through Prosody: median %v, p99 %v", n, times[n/2].Round(time.Microsecond), times[n*99/100].Round(time.Microsecond))
}
