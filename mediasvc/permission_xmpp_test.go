package mediasvc_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"mellium.im/xmpp/jid"
)

// outageChannels passes lookups to the real component until switched
// down; then the channel server is unreachable (ErrUnavailable) while XMPP
// itself, and so confirmations, keep working: the outage in which a stale
// answer could be used for more than it should.
type outageChannels struct {
	next auth.Channels
	down atomic.Bool
}

func (o *outageChannels) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	if o.down.Load() {
		return auth.ChannelInfo{}, fmt.Errorf("%w: channel server unreachable (test outage)", auth.ErrUnavailable)
	}
	return o.next.Channel(ctx, entity)
}

// onlyReads answers as the client of a user who made only a read: it
// accepts GET and HEAD questions and denies all others.
func onlyReads(req auth.ConfirmRequest) xmppclient.Answer {
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return xmppclient.Accept
	}
	return xmppclient.Deny
}

// The auth value of a confirmed read, as seen in an <img src>, is no
// bearer token: a DELETE or an upload with it is asked about and, denied
// by the user, refused. On the old server both went through (200, 201)
// without the user being asked.
func TestXMPPConfirmedReadIsNoBearerTokenOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeder := e.user("bearer-seeder", xmppclient.Accept)
	owner := e.user("bearer-owner", xmppclient.Accept)
	owner.mu.Lock()
	owner.decide = onlyReads
	owner.mu.Unlock()
	channel := "bearer@localhost"
	if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), "whitelist", map[string]auth.Affiliation{
		owner.bare().String(): auth.AffOwner, seeder.bare().String(): auth.AffOwner,
	}); err != nil {
		t.Fatal(err)
	}
	item := e.upload(channel, seeder)
	tid := e.newTID()
	if status, _, b := e.request(http.MethodGet, "/"+channel+"/"+item, owner, tid, nil, ""); status != http.StatusOK {
		t.Fatalf("confirmed GET: %d %s", status, b)
	}
	before := owner.askedCount()
	if status, _, b := e.request(http.MethodDelete, "/"+channel+"/"+item, owner, tid, nil, ""); status != http.StatusForbidden {
		t.Errorf("DELETE with the auth value of a confirmed GET: %d, want 403 (%s)", status, b)
	}
	body, ct := multipartUpload(t, []byte("not mine"), "text/plain")
	if status, _, b := e.request(http.MethodPost, "/"+channel, owner, tid, body, ct); status != http.StatusForbidden {
		t.Errorf("POST with the auth value of a confirmed GET: %d, want 403 (%s)", status, b)
	}
	if asked := owner.askedCount() - before; asked != 2 {
		t.Errorf("the user was asked %d times about the DELETE and the POST, want 2", asked)
	}
	// The item is still there, and further reads need no question.
	before = owner.askedCount()
	if status, _, b := e.request(http.MethodHead, "/"+channel+"/"+item, owner, tid, nil, ""); status != http.StatusOK || owner.askedCount() != before {
		t.Errorf("HEAD after the refused writes: %d (%s), %d questions; want 200 and none", status, b, owner.askedCount()-before)
	}

	// A DELETE sent while the GET's question is still open does not ride
	// on the GET's accept.
	tid = e.newTID()
	deleteAsked := make(chan struct{})
	var once sync.Once
	owner.mu.Lock()
	owner.decide = func(req auth.ConfirmRequest) xmppclient.Answer {
		if req.Method == http.MethodDelete {
			once.Do(func() { close(deleteAsked) })
			return xmppclient.Deny
		}
		select { // accept the GET only once both questions are out
		case <-deleteAsked:
		case <-time.After(5 * time.Second):
		}
		return xmppclient.Accept
	}
	owner.mu.Unlock()
	var wg sync.WaitGroup
	var getStatus, delStatus int
	wg.Add(2)
	go func() {
		defer wg.Done()
		getStatus, _, _ = e.request(http.MethodGet, "/"+channel+"/"+item, owner, tid, nil, "")
	}()
	go func() {
		defer wg.Done()
		time.Sleep(50 * time.Millisecond) // the GET asks first
		delStatus, _, _ = e.request(http.MethodDelete, "/"+channel+"/"+item, owner, tid, nil, "")
	}()
	wg.Wait()
	if getStatus != http.StatusOK || delStatus != http.StatusForbidden {
		t.Errorf("GET and concurrent DELETE with one auth value: %d and %d, want 200 and 403", getStatus, delStatus)
	}
}

// An outage of the channel server: stale information serves only reads of
// a channel that was open, and never for longer than it may still be
// served. A moderator outcast just before the outage cannot delete, and a
// channel switched from open to whitelist just before it is not handed to
// shared caches for a day.
func TestXMPPStaleChannelInfoDuringOutageOverHTTP(t *testing.T) {
	const ttl = 300 * time.Millisecond
	e := newXMPPEnv(t, ttl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeder := e.user("stale-seeder", xmppclient.Accept)
	mod := e.user("stale-mod", xmppclient.Accept)
	open, switched, private := "stale-open@localhost", "stale-switched@localhost", "stale-private@localhost"
	affs := map[string]auth.Affiliation{seeder.bare().String(): auth.AffOwner, mod.bare().String(): auth.AffModerator}
	for _, c := range []struct{ entity, model string }{{open, "open"}, {switched, "open"}, {private, "whitelist"}} {
		if err := e.srv.CreateChannel(ctx, jid.MustParse(c.entity), c.model, affs); err != nil {
			t.Fatal(err)
		}
	}
	openItem, switchedItem, privItem := e.upload(open, seeder), e.upload(switched, seeder), e.upload(private, seeder)
	// Everything is looked up (and cached) while the channel server is up.
	for _, p := range []string{"/" + open + "/" + openItem, "/" + switched + "/" + switchedItem} {
		if status, _, b := e.request(http.MethodGet, p, nil, "", nil, ""); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, status, b)
		}
	}
	if status, _, b := e.request(http.MethodGet, "/"+private+"/"+privItem, mod, e.newTID(), nil, ""); status != http.StatusOK {
		t.Fatalf("moderator's private read: %d %s", status, b)
	}
	// Then the rights change, and the channel server becomes unreachable
	// before the cache has seen the change.
	if err := e.srv.CreateChannel(ctx, jid.MustParse(open), "open", map[string]auth.Affiliation{
		seeder.bare().String(): auth.AffOwner, mod.bare().String(): auth.AffOutcast,
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.CreateChannel(ctx, jid.MustParse(switched), "whitelist", affs); err != nil {
		t.Fatal(err)
	}
	e.outage.down.Store(true)
	time.Sleep(2 * ttl) // past the ttl: only stale answers are left

	if status, _, b := e.request(http.MethodDelete, "/"+open+"/"+openItem, mod, e.newTID(), nil, ""); status != http.StatusServiceUnavailable {
		t.Errorf("delete by an outcast moderator during the outage: %d, want 503 (%s)", status, b)
	}
	body, ct := multipartUpload(t, []byte("x"), "text/plain")
	if status, _, b := e.request(http.MethodPost, "/"+open, seeder, e.newTID(), body, ct); status != http.StatusServiceUnavailable {
		t.Errorf("upload by the owner during the outage: %d, want 503 (%s)", status, b)
	}
	if status, _, b := e.request(http.MethodGet, "/"+private+"/"+privItem, mod, e.newTID(), nil, ""); status != http.StatusServiceUnavailable {
		t.Errorf("private read during the outage: %d, want 503 (%s)", status, b)
	}
	for _, p := range []string{"/" + switched + "/" + switchedItem, "/" + switched + "/" + switchedItem + "/metadata", "/" + switched} {
		status, h, b := e.request(http.MethodGet, p, nil, "", nil, "")
		if status != http.StatusOK {
			t.Errorf("anonymous GET %s of a channel last seen open, during the outage: %d (%s)", p, status, b)
			continue
		}
		if age := maxAge(h.Get("Cache-Control")); age < 0 || age > int(auth.MaxStaleOpen/time.Second) {
			t.Errorf("GET %s on stale information: Cache-Control %q, want max-age at most %d", p, h.Get("Cache-Control"), int(auth.MaxStaleOpen/time.Second))
		}
	}

	// Once the channel server answers again, the new rights hold.
	e.outage.down.Store(false)
	if status, _, b := e.request(http.MethodGet, "/"+switched+"/"+switchedItem, nil, "", nil, ""); status != http.StatusUnauthorized {
		t.Errorf("anonymous read of the now private channel: %d, want 401 (%s)", status, b)
	}
	if status, _, b := e.request(http.MethodDelete, "/"+open+"/"+openItem, mod, e.newTID(), nil, ""); status != http.StatusForbidden {
		t.Errorf("delete by an outcast: %d, want 403 (%s)", status, b)
	}
}

// maxAge reads max-age from a Cache-Control value; -1 when absent.
func maxAge(cc string) int {
	for _, d := range strings.Split(cc, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.0/8 is all loopback on Linux), so a test can play
// requesters at several network addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}}
}

// A flood of made-up transaction ids aimed at one user, from one address:
// the flooder gets 429 with Retry-After beyond its share, a hung-up
// request withdraws its question, and the user, asking from elsewhere and
// answering, is served throughout. On the old server the flood filled the
// user's bound for the whole reply timeout and the user got 503.
func TestXMPPConfirmationFloodOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seeder := e.user("flood-seeder", xmppclient.Accept)
	victim := e.user("flood-victim", xmppclient.Ignore)
	var mine sync.Map // the victim's own transaction ids
	victim.mu.Lock()
	victim.decide = func(req auth.ConfirmRequest) xmppclient.Answer {
		if _, ok := mine.Load(req.TransactionID); ok {
			return xmppclient.Accept
		}
		return xmppclient.Ignore // a prompt the person never answers
	}
	victim.mu.Unlock()
	channel := "flood@localhost"
	if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), "whitelist", map[string]auth.Affiliation{
		seeder.bare().String(): auth.AffOwner, victim.bare().String(): auth.AffMember,
	}); err != nil {
		t.Fatal(err)
	}
	item := e.upload(channel, seeder)
	path := e.http.URL + "/" + channel + "/" + item
	authFor := func(tid string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(victim.client.JID().String()+":"+tid))
	}
	send := func(c *http.Client, ctx context.Context, tid string) (int, http.Header) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.Header.Set("Authorization", authFor(tid))
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header
	}

	flooder := clientFrom("127.0.0.1")
	victimHTTP := clientFrom("127.0.0.2")
	// The flooder keeps MaxPendingPerUserSource requests open...
	floodCtx, hangUp := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < xmppauth.MaxPendingPerUserSource; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); send(flooder, floodCtx, fmt.Sprintf("flood-%d", i)) }()
	}
	for deadline := time.Now().Add(10 * time.Second); victim.askedCount() < xmppauth.MaxPendingPerUserSource && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	// ...and one more is refused without asking the user.
	before := victim.askedCount()
	status, h := send(flooder, ctx, "flood-extra")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("flooder beyond its share: %d Retry-After=%q, want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	if victim.askedCount() != before {
		t.Error("the user was asked about the refused flood request")
	}
	// The user, from another address, is asked and served at once.
	mine.Store("victim-1", true)
	started := time.Now()
	if status, _ := send(victimHTTP, ctx, "victim-1"); status != http.StatusOK {
		t.Errorf("the user's own read during the flood: %d, want 200", status)
	}
	t.Logf("the user's read took %s during the flood", time.Since(started).Round(time.Millisecond))

	// The flooder hangs up: its questions are withdrawn at once, so the
	// same address may be asked again well before the reply timeout.
	hangUp()
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	mine.Store("after-hangup", true)
	if status, _ := send(flooder, ctx, "after-hangup"); status != http.StatusOK {
		t.Errorf("a request from the flooder's address after it hung up: %d, want 200 (questions withdrawn)", status)
	}
}
