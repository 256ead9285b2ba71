package auth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/internal/authtest"
	"mellium.im/xmpp/jid"
)

func confirmReq(j, tid string) auth.ConfirmRequest {
	return auth.ConfirmRequest{JID: jid.MustParse(j), TransactionID: tid, Method: "GET", URL: "https://m/c@x/1", Channel: jid.MustParse("c@x")}
}

// with returns r asking about method and URL u of channel.
func with(r auth.ConfirmRequest, method, channel, u string) auth.ConfirmRequest {
	r.Method, r.URL, r.Channel = method, u, jid.JID{}
	if channel != "" {
		r.Channel = jid.MustParse(channel)
	}
	return r
}

func TestConfirmCacheRemembers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		ttl       time.Duration
		first     auth.ConfirmRequest
		then      auth.ConfirmRequest
		wantAsked int
	}{
		{"same pair is remembered", time.Minute, confirmReq("a@x/phone", "t1"), confirmReq("a@x/phone", "t1"), 1},
		{"another transaction is asked", time.Minute, confirmReq("a@x/phone", "t1"), confirmReq("a@x/phone", "t2"), 2},
		{"another resource is asked", time.Minute, confirmReq("a@x/phone", "t1"), confirmReq("a@x/laptop", "t1"), 2},
		{"ttl 0 remembers nothing", 0, confirmReq("a@x/phone", "t1"), confirmReq("a@x/phone", "t1"), 2},
		{"another read of the channel is covered", time.Minute, confirmReq("a@x/phone", "t1"), with(confirmReq("a@x/phone", "t1"), "HEAD", "c@x", "https://m/c@x/2"), 1},
		{"a read of another channel is asked", time.Minute, confirmReq("a@x/phone", "t1"), with(confirmReq("a@x/phone", "t1"), "GET", "d@x", "https://m/d@x/1"), 2},
		// The same auth value, another method: a confirmed read is no
		// bearer token for writes.
		{"a delete after a read is asked", time.Minute, confirmReq("a@x/phone", "t1"), with(confirmReq("a@x/phone", "t1"), "DELETE", "c@x", "https://m/c@x/1"), 2},
		{"an upload after a read is asked", time.Minute, confirmReq("a@x/phone", "t1"), with(confirmReq("a@x/phone", "t1"), "POST", "c@x", "https://m/c@x"), 2},
		{"a write is never remembered", time.Minute, with(confirmReq("a@x/phone", "t1"), "DELETE", "c@x", "https://m/c@x/1"), with(confirmReq("a@x/phone", "t1"), "DELETE", "c@x", "https://m/c@x/1"), 2},
		{"a read after a write is asked", time.Minute, with(confirmReq("a@x/phone", "t1"), "PUT", "c@x", "https://m/c@x/avatar"), confirmReq("a@x/phone", "t1"), 2},
		{"no channel, nothing remembered", time.Minute, with(confirmReq("a@x/phone", "t1"), "GET", "", "https://m/1"), with(confirmReq("a@x/phone", "t1"), "GET", "", "https://m/1"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &authtest.Confirmer{}
			for _, j := range []string{"a@x/phone", "a@x/laptop"} {
				for _, tid := range []string{"t1", "t2"} {
					fake.Accept(j, tid)
				}
			}
			c := auth.NewConfirmCache(fake, tt.ttl)
			if err := c.Confirm(ctx, tt.first); err != nil {
				t.Fatal(err)
			}
			if err := c.Confirm(ctx, tt.then); err != nil {
				t.Fatal(err)
			}
			if fake.Count() != tt.wantAsked {
				t.Errorf("asked %d times, want %d", fake.Count(), tt.wantAsked)
			}
		})
	}
}

func TestConfirmCacheNeverRemembersFailures(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		err  error
	}{{"denied", nil}, {"unavailable", auth.ErrUnavailable}} {
		t.Run(tt.name, func(t *testing.T) {
			fake := &authtest.Confirmer{} // accepts nothing: denied
			fake.SetErr(tt.err)
			c := auth.NewConfirmCache(fake, time.Minute)
			for i := 0; i < 2; i++ {
				if err := c.Confirm(ctx, confirmReq("a@x/phone", "t1")); err == nil {
					t.Fatal("a failed confirmation came back as success")
				}
			}
			if fake.Count() != 2 {
				t.Errorf("asked %d times, want 2 (failures are not remembered)", fake.Count())
			}
			// Once the user accepts, it goes through.
			fake.SetErr(nil)
			fake.Accept("a@x/phone", "t1")
			if err := c.Confirm(ctx, confirmReq("a@x/phone", "t1")); err != nil {
				t.Errorf("after accepting: %v", err)
			}
		})
	}
}

// gatedConfirmer holds every confirmation until release is closed.
type gatedConfirmer struct {
	next    auth.Confirmer
	release chan struct{}
	calls   atomic.Int64
}

func (g *gatedConfirmer) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	g.calls.Add(1)
	<-g.release
	return g.next.Confirm(ctx, req)
}

// Concurrent identical requests share one question (for both TTLs), a
// caller that gives up does not cancel it for the others.
func TestConfirmCacheSharesConcurrentCalls(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Minute} {
		t.Run(ttl.String(), func(t *testing.T) {
			fake := &authtest.Confirmer{}
			fake.Accept("a@x/phone", "t1")
			gate := &gatedConfirmer{next: fake, release: make(chan struct{})}
			c := auth.NewConfirmCache(gate, ttl)

			impatient, giveUp := context.WithCancel(context.Background())
			impatientErr := make(chan error, 1)
			go func() { impatientErr <- c.Confirm(impatient, confirmReq("a@x/phone", "t1")) }()
			for gate.calls.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			const n = 20
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() { defer wg.Done(); errs <- c.Confirm(context.Background(), confirmReq("a@x/phone", "t1")) }()
			}
			time.Sleep(20 * time.Millisecond) // let the others join the call
			giveUp()
			if err := <-impatientErr; !errors.Is(err, context.Canceled) {
				t.Errorf("impatient caller got %v, want context.Canceled", err)
			}
			close(gate.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("shared Confirm: %v", err)
				}
			}
			if got := gate.calls.Load(); got != 1 {
				t.Errorf("%d questions for %d concurrent requests, want 1", got, n+1)
			}
		})
	}
}

// Concurrent requests share a question only when they would ask the same
// one: a DELETE sent while a GET's question is open gets its own.
func TestConfirmCacheSharesOnlyTheSameQuestion(t *testing.T) {
	fake := &authtest.Confirmer{}
	fake.Accept("a@x/phone", "t1")
	gate := &gatedConfirmer{next: fake, release: make(chan struct{})}
	c := auth.NewConfirmCache(gate, time.Minute)
	reqs := []auth.ConfirmRequest{
		confirmReq("a@x/phone", "t1"),
		with(confirmReq("a@x/phone", "t1"), "GET", "c@x", "https://m/c@x/2"), // another read of the channel: shared
		with(confirmReq("a@x/phone", "t1"), "DELETE", "c@x", "https://m/c@x/1"),
		with(confirmReq("a@x/phone", "t1"), "POST", "c@x", "https://m/c@x"),
		with(confirmReq("a@x/phone", "t1"), "POST", "c@x", "https://m/c@x/1"),
		with(confirmReq("a@x/phone", "t1"), "GET", "d@x", "https://m/d@x/1"),
	}
	var wg sync.WaitGroup
	for _, r := range reqs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Confirm(context.Background(), r) }()
	}
	for deadline := time.Now().Add(5 * time.Second); gate.calls.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(gate.release)
	wg.Wait()
	if got := gate.calls.Load(); got != 5 {
		t.Errorf("%d questions for %d requests, want 5 (two reads of one channel share)", got, len(reqs))
	}
}

// waitingConfirmer blocks until its ctx ends and records that it did.
type waitingConfirmer struct {
	started, ended chan struct{}
}

func (w *waitingConfirmer) Confirm(ctx context.Context, _ auth.ConfirmRequest) error {
	close(w.started)
	<-ctx.Done()
	close(w.ended)
	return ctx.Err()
}

// A question nobody waits for any more is withdrawn (its context ends),
// so hung-up requests do not keep a user's bound of questions full.
func TestConfirmCacheWithdrawsAbandonedQuestions(t *testing.T) {
	w := &waitingConfirmer{started: make(chan struct{}), ended: make(chan struct{})}
	c := auth.NewConfirmCache(w, time.Minute)
	ctx, hangUp := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Confirm(ctx, confirmReq("a@x/phone", "t1")) }()
	<-w.started
	hangUp()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Confirm = %v, want context.Canceled", err)
	}
	select {
	case <-w.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the question was still waiting 5 s after its only requester hung up")
	}
}

func TestChannelCache(t *testing.T) {
	ctx := context.Background()
	entity := jid.MustParse("chan@x")
	fake := &authtest.Channels{}
	fake.Set("chan@x", "whitelist", map[string]auth.Affiliation{"a@x": auth.AffOwner})
	counting := &countingChannels{next: fake}
	c := auth.NewChannelCache(counting, time.Minute)

	info, err := c.Channel(ctx, entity)
	if err != nil || info.AccessModel != "whitelist" || info.Affiliations["a@x"] != auth.AffOwner {
		t.Fatalf("Channel = %+v, %v", info, err)
	}
	// A full JID names the same channel.
	if _, err := c.Channel(ctx, jid.MustParse("chan@x/res")); err != nil {
		t.Fatal(err)
	}
	if counting.calls.Load() != 1 {
		t.Errorf("%d lookups, want 1 (remembered)", counting.calls.Load())
	}
	// Errors are not remembered: every lookup of a failing channel asks.
	other := jid.MustParse("other@x")
	fake.SetErr(auth.ErrUnavailable)
	for i := 0; i < 2; i++ {
		if _, err := c.Channel(ctx, other); !errors.Is(err, auth.ErrUnavailable) {
			t.Fatalf("Channel = %v, want ErrUnavailable", err)
		}
	}
	if counting.calls.Load() != 3 {
		t.Errorf("%d lookups, want 3 (errors are not remembered)", counting.calls.Load())
	}
	fake.SetErr(nil)
	if info, err := c.Channel(ctx, other); err != nil || info.AccessModel != "" {
		t.Errorf("after recovery: %+v, %v; want the zero info of an unknown channel", info, err)
	}
}

func TestChannelCacheTTLZeroSharesOnly(t *testing.T) {
	fake := &authtest.Channels{}
	fake.Set("chan@x", "open", nil)
	counting := &countingChannels{next: fake, release: make(chan struct{})}
	c := auth.NewChannelCache(counting, 0)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if info, err := c.Channel(context.Background(), jid.MustParse("chan@x")); err != nil || !info.Public() {
				t.Errorf("Channel = %+v, %v", info, err)
			}
		}()
	}
	for counting.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(counting.release)
	wg.Wait()
	if got := counting.calls.Load(); got != 1 {
		t.Errorf("%d lookups for 10 concurrent requests, want 1", got)
	}
	if _, err := c.Channel(context.Background(), jid.MustParse("chan@x")); err != nil {
		t.Fatal(err)
	}
	if got := counting.calls.Load(); got != 2 {
		t.Errorf("%d lookups, want 2: ttl 0 remembers nothing", got)
	}
}

type countingChannels struct {
	next    auth.Channels
	release chan struct{} // nil: answer at once
	calls   atomic.Int64
}

func (c *countingChannels) AccessModel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	return c.next.AccessModel(ctx, entity)
}

func (c *countingChannels) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	c.calls.Add(1)
	if c.release != nil {
		<-c.release
	}
	return c.next.Channel(ctx, entity)
}

// Through an outage, an open channel seen recently is still served (public
// reads keep working); a private one is not.
func TestChannelCacheServesOpenChannelsThroughOutage(t *testing.T) {
	ctx := context.Background()
	fake := &authtest.Channels{}
	fake.Set("open@x", "open", nil)
	fake.Set("private@x", "whitelist", map[string]auth.Affiliation{"a@x": auth.AffMember})
	c := auth.NewChannelCache(fake, 20*time.Millisecond)
	for _, e := range []string{"open@x", "private@x"} {
		if _, err := c.Channel(ctx, jid.MustParse(e)); err != nil {
			t.Fatal(err)
		}
	}
	fake.SetErr(auth.ErrUnavailable)
	time.Sleep(40 * time.Millisecond) // past the ttl
	if info, err := c.Channel(ctx, jid.MustParse("open@x")); err != nil || !info.Public() {
		t.Errorf("open channel during outage: %+v, %v; want the last answer", info, err)
	}
	if _, err := c.Channel(ctx, jid.MustParse("private@x")); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("private channel during outage: %v, want ErrUnavailable", err)
	}
	if _, err := c.Channel(ctx, jid.MustParse("never-seen@x")); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("unknown channel during outage: %v, want ErrUnavailable", err)
	}
}
