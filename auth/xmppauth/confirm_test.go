package xmppauth_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"github.com/xmppmedia/mediaserver/internal/ejabberdtest"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// What a client sees when it looks for the media server: the identity and
// features API.md fixes, and the endpoint form only when a public URL is
// configured.
func TestDiscoInfo(t *testing.T) {
	ctx := testContext(t)
	client, _ := newUser(t, stack.srv, "disco", xmppclient.Ignore)
	type field struct{ Var, Type, Value string }
	type reply struct {
		Identities []struct {
			Category string `xml:"category,attr"`
			Type     string `xml:"type,attr"`
			Name     string `xml:"name,attr"`
		} `xml:"identity"`
		Features []struct {
			Var string `xml:"var,attr"`
		} `xml:"feature"`
		Forms []struct {
			Type   string `xml:"type,attr"`
			Fields []struct {
				Var   string `xml:"var,attr"`
				Type  string `xml:"type,attr"`
				Value string `xml:"value"`
			} `xml:"field"`
		} `xml:"jabber:x:data x"`
	}
	tests := []struct {
		name      string
		component *xmppauth.Component
		wantForm  []field
	}{
		{"with public URL", stack.discovering, []field{
			{"FORM_TYPE", "hidden", "http://buddycloud.org/v1/api"},
			{"endpoint", "text-single", publicURL},
		}},
		{"without public URL", stack.configured, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reply
			err := client.Session().UnmarshalIQElement(ctx,
				xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"}}),
				stanza.IQ{Type: stanza.GetIQ, To: tt.component.JID()}, &r)
			if err != nil {
				t.Fatalf("disco#info: %v", err)
			}
			if len(r.Identities) != 1 || r.Identities[0].Category != "component" || r.Identities[0].Type != "generic" || r.Identities[0].Name != "Media Server" {
				t.Errorf("identities %+v, want exactly component/generic \"Media Server\"", r.Identities)
			}
			var features []string
			for _, f := range r.Features {
				features = append(features, f.Var)
			}
			if fmt.Sprint(features) != fmt.Sprint([]string{"http://jabber.org/protocol/disco#info", "urn:xmpp:ping"}) {
				t.Errorf("features %v", features)
			}
			var got []field
			for _, f := range r.Forms {
				if f.Type != "result" {
					t.Errorf("form type %q, want result", f.Type)
				}
				for _, fl := range f.Fields {
					got = append(got, field{fl.Var, fl.Type, fl.Value})
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantForm) {
				t.Errorf("form fields %v, want %v", got, tt.wantForm)
			}
		})
	}
	t.Run("other questions", func(t *testing.T) {
		tests := []struct {
			name    string
			payload xml.StartElement
			typ     stanza.IQType
			want    stanza.Condition // "" for a result
		}{
			{"disco#items", xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoItems, Local: "query"}}, stanza.GetIQ, ""},
			{"disco#info of a node", xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: "x"}}}, stanza.GetIQ, stanza.ItemNotFound},
			{"unknown get", xml.StartElement{Name: xml.Name{Space: "urn:example:nothing", Local: "q"}}, stanza.GetIQ, stanza.ServiceUnavailable},
			{"unknown set", xml.StartElement{Name: xml.Name{Space: "urn:example:nothing", Local: "q"}}, stanza.SetIQ, stanza.ServiceUnavailable},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := client.Session().UnmarshalIQElement(ctx, xmlstream.Wrap(nil, tt.payload), stanza.IQ{Type: tt.typ, To: stack.discovering.JID()}, nil)
				var se stanza.Error
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("got %v, want a result", err)
				case tt.want != "" && (!errors.As(err, &se) || se.Condition != tt.want):
					t.Errorf("got %v, want %s", err, tt.want)
				}
			})
		}
	})
	t.Run("ping", func(t *testing.T) {
		resp, err := client.Session().SendIQElement(ctx,
			xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSPing, Local: "ping"}}),
			stanza.IQ{Type: stanza.GetIQ, To: stack.discovering.JID()})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Close()
		tok, err := resp.Token()
		if err != nil {
			t.Fatal(err)
		}
		start := tok.(xml.StartElement)
		iq, err := stanza.UnmarshalIQError(resp, start)
		if err != nil || iq.Type != stanza.ResultIQ {
			t.Errorf("ping answered %s, %v; want a result", iq.Type, err)
		}
	})
}

// Accept, deny and silence, as a user's client answers them; the stanza
// carries the real method and URL.
func TestConfirmAnswers(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	tests := []struct {
		answer    xmppclient.Answer
		component *xmppauth.Component
		want      error
	}{
		{xmppclient.Accept, stack.configured, nil},
		{xmppclient.Deny, stack.configured, auth.ErrDenied},
		{xmppclient.Ignore, stack.short, auth.ErrDenied}, // times out
	}
	for _, tt := range tests {
		t.Run(tt.answer.String(), func(t *testing.T) {
			ctx := testContext(t)
			client, rec := newUser(t, stack.srv, "answer", tt.answer)
			req := auth.ConfirmRequest{
				JID:           client.JID(),
				TransactionID: "tx-" + tt.answer.String(),
				Method:        "DELETE",
				URL:           "https://media.example.test/chan@localhost/abc?x=1&y=2",
			}
			started := time.Now()
			err := tt.component.Confirm(ctx, req)
			elapsed := time.Since(started)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Confirm = %v, want %v", err, tt.want)
			}
			// Not before the short timeout, and well before the 10 s of the
			// other components (5 s of slack for a loaded machine).
			if tt.answer == xmppclient.Ignore && (elapsed < shortTimeout || elapsed > shortTimeout+5*time.Second) {
				t.Errorf("timeout after %s, want about %s", elapsed, shortTimeout)
			}
			asked := rec.Asked()
			if len(asked) != 1 {
				t.Fatalf("client was asked %d times, want 1", len(asked))
			}
			want := req
			if got := asked[0]; got.TransactionID != want.TransactionID || got.Method != want.Method || got.URL != want.URL || !got.JID.Equal(want.JID) {
				t.Errorf("client saw %+v, want %+v", got, want)
			}
		})
	}
}

// Only the asked JID can answer: a forged accept from another user, or
// from another resource when a full JID was asked, changes nothing.
func TestConfirmSenderChecks(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	ctx := testContext(t)
	alice, aliceRec := newUser(t, stack.srv, "alice", xmppclient.Ignore)
	mallory, _ := newUser(t, stack.srv, "mallory", xmppclient.Ignore)
	// A second resource of alice's account.
	alice2, _ := loginUser(t, stack.srv, alice.JID().Localpart(), xmppclient.Ignore)

	forge := func(from *xmppclient.Client, req auth.ConfirmRequest) {
		// Wait until alice's client has seen the question, then answer it
		// from elsewhere with the same transaction id.
		deadline := time.Now().Add(5 * time.Second)
		for len(aliceRec.Asked()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		err := from.SendReply(ctx, xmppclient.Reply{To: stack.short.JID(), Request: req, Answer: xmppclient.Accept})
		if err != nil {
			t.Errorf("forge: %v", err)
		}
	}
	tests := []struct {
		name   string
		asked  jid.JID
		forger *xmppclient.Client
		want   error
	}{
		{"another user's accept", alice.JID(), mallory, auth.ErrDenied},
		{"another user's accept, bare JID asked", alice.JID().Bare(), mallory, auth.ErrDenied},
		{"another resource, full JID asked", alice.JID(), alice2, auth.ErrDenied},
		{"another resource, bare JID asked", alice.JID().Bare(), alice2, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aliceRec.mu.Lock()
			aliceRec.asked = nil
			aliceRec.mu.Unlock()
			req := auth.ConfirmRequest{JID: tt.asked, TransactionID: fmt.Sprintf("forged-%d", i), Method: "GET", URL: "https://m/x"}
			done := make(chan struct{})
			go func() { defer close(done); forge(tt.forger, req) }()
			err := stack.short.Confirm(ctx, req)
			<-done
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Confirm = %v, want %v", err, tt.want)
			}
		})
	}
}

// A message to an account that does not exist bounces with only its
// stanza id: the bounce denies at once instead of waiting for the timeout.
func TestConfirmUnknownUserBounces(t *testing.T) {
	ctx := testContext(t)
	req := auth.ConfirmRequest{JID: jid.MustParse("nobody-here@localhost/x"), TransactionID: "t1", Method: "GET", URL: "u"}
	started := time.Now()
	err := stack.configured.Confirm(ctx, req)
	if !errors.Is(err, auth.ErrDenied) {
		t.Fatalf("Confirm = %v, want ErrDenied", err)
	}
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Errorf("took %s: the bounce was not matched by stanza id", elapsed)
	}
}

// A component that is not connected says so at once.
func TestNotConnected(t *testing.T) {
	c, err := xmppauth.New(xmppauth.Config{ComponentJID: "media.nowhere", Secret: "s", ServerAddr: "127.0.0.1:1", ChannelServer: "channels.nowhere"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if c.Connected() {
		t.Error("Connected before Run")
	}
	if err := c.Confirm(ctx, auth.ConfirmRequest{JID: jid.MustParse("a@b/c"), TransactionID: "t"}); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Confirm = %v, want ErrUnavailable", err)
	}
	if _, err := c.Channel(ctx, jid.MustParse("a@b")); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Channel = %v, want ErrUnavailable", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.WaitConnected(wctx); err == nil {
		t.Error("WaitConnected returned nil without a server")
	}
}

// The confirmation cache in front of the real component: N concurrent
// reads of one channel with one (JID, transaction id) cost one
// confirmation, and the
// pair stays confirmed afterwards.
func TestConfirmCacheOneRoundTrip(t *testing.T) {
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "thumbs", xmppclient.Accept)
	cached := auth.NewConfirmCache(stack.configured, time.Minute)
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- cached.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "page-load", Method: "GET", URL: fmt.Sprintf("https://m/chan@localhost/thumb%d", i), Channel: bare("chan@localhost")})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Confirm: %v", err)
		}
	}
	if err := cached.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "page-load", Method: "GET", URL: "https://m/chan@localhost/late", Channel: bare("chan@localhost")}); err != nil {
		t.Errorf("remembered Confirm: %v", err)
	}
	if got := len(rec.Asked()); got != 1 {
		t.Errorf("client was asked %d times for %d requests, want 1", got, n+1)
	}
	if err := cached.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "other", Method: "GET", URL: "https://m/x"}); err != nil {
		t.Errorf("Confirm of another transaction: %v", err)
	}
	if got := len(rec.Asked()); got != 2 {
		t.Errorf("client was asked %d times after a second transaction, want 2", got)
	}
}

// The keepalive ping goes through Prosody and back; a healthy connection
// is kept (no reconnect, no warning) however often it pings.
func TestKeepAliveThroughProsody(t *testing.T) {
	t.Parallel() // mostly waiting for pings
	checkKeepAlive(t, xmppauth.Config{
		ComponentJID: "media4.localhost", Secret: stack.srv.ComponentSecret(), ServerAddr: stack.srv.ComponentAddr(),
	})
}

// The same through ejabberd with the shipped configuration. mellium
// blanks the from of the ping the component sends itself, and ejabberd
// ends a component stream at once on a reply without to: the old
// component answered its own ping so, and was disconnected at every
// keepalive (every 30 s by default).
func TestKeepAliveThroughEjabberd(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "ejabberd-mediaserver.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ej := ejabberdtest.Start(t, example)
	const media = "media.example.com"
	checkKeepAlive(t, xmppauth.Config{ComponentJID: media, Secret: ej.ComponentSecret(media), ServerAddr: ej.ComponentAddr()})
}

// checkKeepAlive runs a component with cfg pinging every 20 ms and checks
// that 20 pings keep one connection. It waits for pings actually sent
// (IQsSent: nothing else asks anything here), each one after the previous
// was answered, rather than for a stretch of time.
func checkKeepAlive(t *testing.T, cfg xmppauth.Config) {
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A reply timeout that a loaded 2-core machine cannot miss by accident;
	// a ping that goes unanswered still ends in a warning and a reconnect.
	cfg.ReplyTimeout, cfg.KeepAlive = 5*time.Second, 20*time.Millisecond
	c, err := xmppauth.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := c.WaitConnected(testContext(t)); err != nil {
		t.Fatal(err)
	}
	// The keepalive waits for each answer before the next tick, so the
	// 20th ping is sent only once 19 came back through the server.
	const pings = 20
	start := c.IQsSent()
	logged := func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
	for deadline := time.Now().Add(30 * time.Second); c.IQsSent()-start < pings; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(logged(), "disconnected") {
			t.Fatalf("disconnected after %d keepalive pings; log:\n%s", c.IQsSent()-start, logged())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keepalive pings in 30 s, want %d", c.IQsSent()-start, pings)
		}
	}
	if n := strings.Count(logged(), "xmpp component connected"); n != 1 || strings.Contains(logged(), "keepalive") || strings.Contains(logged(), "disconnected") {
		t.Errorf("connected %d times; log:\n%s", n, logged())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tracedUser logs in a fresh user whose client ignores confirmations and
// keeps a copy of everything the server sends it.
func tracedUser(t *testing.T, name string) (*xmppclient.Client, *recorder, *syncBuffer) {
	t.Helper()
	ctx := testContext(t)
	local := fmt.Sprintf("%s%d", name, stack.users.Add(1))
	if err := stack.srv.Register(ctx, local, "pw"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{answer: xmppclient.Ignore}
	trace := &syncBuffer{}
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: stack.srv.C2SAddr(), JID: stack.srv.UserJID(local), Password: "pw", TraceIn: trace}, rec.Answer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec, trace
}

var (
	threadRE    = regexp.MustCompile(`<thread>([^<]+)</thread>`)
	messageIDRE = regexp.MustCompile(`<message [^>]*id=['"]([^'"]+)['"][^>]*>`)
)

// confirmMessage is a message stanza as the user's client receives it, with
// the XEP-0070 confirm element.
type confirmMessage struct {
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
	Thread  string `xml:"thread"`
	Confirm *struct {
		ID     string `xml:"id,attr"`
		Method string `xml:"method,attr"`
		URL    string `xml:"url,attr"`
	} `xml:"http://jabber.org/protocol/http-auth confirm"`
}

// confirmMessages parses the message stanzas of a client's inbound trace:
// children of the last stream (the one after the restarts of TLS and SASL),
// which is still open, so the trace ends without its closing tag.
func confirmMessages(t *testing.T, trace string) []confirmMessage {
	t.Helper()
	var out []confirmMessage
	d := xml.NewDecoder(strings.NewReader(trace[max(0, strings.LastIndex(trace, "<?xml")):]))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return out // the end of what was received
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 1 && el.Name.Local == "message" {
				var m confirmMessage
				if err := d.DecodeElement(&m, &el); err != nil {
					t.Fatalf("decode message: %v\n%s", err, trace)
				}
				out = append(out, m)
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// The confirmation request on the wire, as the user's client receives it:
// one message of type normal, from the component to the full JID, whose own
// children carry the body, thread and confirm (XEP-0070 section 4.3).
func TestConfirmWireFormat(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	ctx := testContext(t)
	client, rec, trace := tracedUser(t, "wire")
	req := auth.ConfirmRequest{JID: client.JID(), TransactionID: "wire-tx-1", Method: "PUT", URL: "https://media.example.test/chan@localhost/avatar"}
	done := make(chan error, 1)
	go func() { done <- stack.short.Confirm(ctx, req) }()
	defer func() { <-done }() // unanswered: ends with the short timeout
	waitAsked(t, rec)
	var got []confirmMessage
	for _, m := range confirmMessages(t, trace.String()) {
		if m.Confirm != nil {
			got = append(got, m)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d messages with a confirm element, want 1; the client received:\n%s", len(got), trace.String())
	}
	m := got[0]
	for _, c := range []struct{ what, got, want string }{
		{"from", m.From, "media3.localhost"},
		{"to", m.To, client.JID().String()},
		{"type", m.Type, "normal"},
		{"body", m.Body, "Confirmation message for transaction wire-tx-1"},
		{"confirm id", m.Confirm.ID, "wire-tx-1"},
		{"confirm method", m.Confirm.Method, "PUT"},
		{"confirm url", m.Confirm.URL, "https://media.example.test/chan@localhost/avatar"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q; the client received:\n%s", c.what, c.got, c.want, trace.String())
		}
	}
	if m.Thread == "" || m.ID == "" {
		t.Errorf("message id %q, thread %q: want both; the client received:\n%s", m.ID, m.Thread, trace.String())
	}
}

func waitAsked(t *testing.T, rec *recorder) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(rec.Asked()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the client was never asked")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawStanza turns literal XML into tokens to send (Go's decoder reports
// xmlns both as a name and as an attribute; the attribute is dropped).
func rawStanza(s string) xml.TokenReader {
	return xmlstream.RemoveAttr(func(_ xml.StartElement, a xml.Attr) bool {
		return a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == "xmlns"
	})(xml.NewDecoder(strings.NewReader(s)))
}

// Answers other than the plain echo that clients send: an IQ result or
// error carrying the confirm element, a message with an <error/> child but
// no type, and a bounce that keeps only the message id.
func TestConfirmOtherReplyForms(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	confirmEl := func(tid string) string {
		return `<confirm xmlns='http://jabber.org/protocol/http-auth' id='` + tid + `' method='GET' url='u'/>`
	}
	errEl := `<error type='cancel'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>`
	tests := []struct {
		name  string
		reply func(to, tid, msgID string) string
		want  error
	}{
		{"echo of the transaction id with our thread accepts", func(to, tid, _ string) string {
			return `<message type='normal' to='` + to + `'><thread>THREAD</thread><confirm xmlns='http://jabber.org/protocol/http-auth' id='` + tid + `'/></message>`
		}, nil},
		{"echo of the transaction id for another method changes nothing", func(to, tid, _ string) string {
			return `<message type='normal' to='` + to + `'><confirm xmlns='http://jabber.org/protocol/http-auth' id='` + tid + `' method='DELETE' url='u'/></message>`
		}, auth.ErrDenied}, // by timeout
		{"iq result with confirm accepts", func(to, tid, _ string) string {
			return `<iq type='result' id='r1' to='` + to + `'>` + confirmEl(tid) + `</iq>`
		}, nil},
		{"iq result with only the message id changes nothing", func(to, _, msgID string) string {
			return `<iq type='result' id='` + msgID + `' to='` + to + `'/>`
		}, auth.ErrDenied}, // by timeout: an accept must carry the transaction id
		{"iq error with confirm denies", func(to, tid, _ string) string {
			return `<iq type='error' id='r2' to='` + to + `'>` + confirmEl(tid) + errEl + `</iq>`
		}, auth.ErrDenied},
		{"message with an error child denies", func(to, tid, _ string) string {
			return `<message type='normal' to='` + to + `'>` + confirmEl(tid) + errEl + `</message>`
		}, auth.ErrDenied},
		{"error bounce with only the message id denies", func(to, _, msgID string) string {
			return `<message type='error' id='` + msgID + `' to='` + to + `'>` + errEl + `</message>`
		}, auth.ErrDenied},
		{"echo of another transaction changes nothing", func(to, _, _ string) string {
			return `<message type='normal' to='` + to + `'>` + confirmEl("someone-elses") + `</message>`
		}, auth.ErrDenied}, // by timeout
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			client, rec, trace := tracedUser(t, "forms")
			tid := fmt.Sprintf("form-%d", i)
			// A reply that changes nothing is waited out on the short
			// timeout; one that decides is sent to a component that would
			// wait 10 s, so "decided before the timeout" holds on a
			// loaded machine too.
			comp, timeout := stack.configured, 10*time.Second
			if strings.Contains(tt.name, "changes nothing") {
				comp, timeout = stack.short, shortTimeout
			}
			result := make(chan error, 1)
			started := time.Now()
			go func() {
				result <- comp.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: tid, Method: "GET", URL: "u"})
			}()
			waitAsked(t, rec)
			m := messageIDRE.FindStringSubmatch(trace.String())
			if m == nil {
				t.Fatalf("no message id in what the client received:\n%s", trace.String())
			}
			reply := tt.reply(comp.JID().String(), tid, m[1])
			if th := threadRE.FindStringSubmatch(trace.String()); th != nil {
				reply = strings.ReplaceAll(reply, "THREAD", th[1])
			}
			if err := client.Session().Send(ctx, rawStanza(reply)); err != nil {
				t.Fatal(err)
			}
			err := <-result
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Confirm = %v, want %v", err, tt.want)
			}
			if comp != stack.short && time.Since(started) >= timeout {
				t.Errorf("answered only by the timeout (%s): the reply was not recognised", time.Since(started))
			}
		})
	}
}

// Made-up transaction ids from one source cannot flood one user: beyond
// MaxPendingPerUserSource waiting questions that source is told to retry
// later (ErrTooMany) instead of the user being asked.
func TestConfirmFloodIsBounded(t *testing.T) {
	t.Parallel() // mostly waiting for the client
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "flooded", xmppclient.Ignore)
	// The questions wait up to 10 s for an answer that never comes, so all
	// n are in flight together however slowly the goroutines start; the
	// test ends the asked ones itself once it has seen the refusals.
	const n = xmppauth.MaxPendingPerUser + 5
	const bound = xmppauth.MaxPendingPerUserSource
	floodCtx, stopFlood := context.WithCancel(ctx)
	defer stopFlood()
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			results <- stack.configured.Confirm(floodCtx, auth.ConfirmRequest{JID: client.JID(), TransactionID: fmt.Sprintf("flood-%d", i), Method: "GET", URL: "u", Source: "198.51.100.1"})
		}()
	}
	for i := 0; i < n-bound; i++ {
		if err := <-results; !errors.Is(err, auth.ErrTooMany) {
			t.Fatalf("Confirm %d of %d to return: %v; want ErrTooMany for the %d over the bound of %d", i+1, n, err, n-bound, bound)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(rec.Asked()) < bound && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(rec.Asked()); n != bound {
		t.Errorf("the user was asked %d times, want the bound %d from one source", n, bound)
	}
	stopFlood()
	for i := 0; i < bound; i++ {
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Errorf("an asked question ended with %v, want the test's cancel", err)
		}
	}
	// Once those have ended, the user can be asked again.
	afterCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := stack.configured.Confirm(afterCtx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "after-flood", Method: "GET", URL: "u", Source: "198.51.100.1"})
	if !errors.Is(err, context.DeadlineExceeded) || len(rec.Asked()) != bound+1 {
		t.Errorf("after the flood: %v, asked %d times; want the user asked again (%d) and left unanswered", err, len(rec.Asked()), bound+1)
	}
}

// A flood from many sources fills the user's bound, and the user's own
// request from another source is still asked and answered at once: it
// crowds out the oldest question of the biggest flooder, who gets
// ErrTooMany.
func TestConfirmFloodLeavesTheUserAQuestion(t *testing.T) {
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "besieged", xmppclient.Ignore)
	rec.mu.Lock()
	rec.decide = func(req auth.ConfirmRequest) xmppclient.Answer {
		if req.TransactionID == "mine" {
			return xmppclient.Accept
		}
		return xmppclient.Ignore // a prompt nobody answers
	}
	rec.mu.Unlock()
	floodCtx, stopFlood := context.WithCancel(ctx)
	defer stopFlood()
	const sources = xmppauth.MaxPendingPerUser/xmppauth.MaxPendingPerUserSource + 2
	results := make(chan error, sources*xmppauth.MaxPendingPerUserSource)
	for s := 0; s < sources; s++ {
		for i := 0; i < xmppauth.MaxPendingPerUserSource; i++ {
			go func() {
				results <- stack.configured.Confirm(floodCtx, auth.ConfirmRequest{JID: client.JID(), TransactionID: fmt.Sprintf("siege-%d-%d", s, i), Method: "GET", URL: "u", Source: fmt.Sprintf("2001:db8:%d::/64", s)})
			}()
		}
	}
	// Wait until the user's bound is full.
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.Asked()) < xmppauth.MaxPendingPerUser && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	started := time.Now()
	err := stack.configured.Confirm(ctx, auth.ConfirmRequest{JID: client.JID(), TransactionID: "mine", Method: "GET", URL: "u", Source: "192.0.2.55"})
	if err != nil {
		t.Fatalf("the user's own request during the flood: %v", err)
	}
	t.Logf("the user's request was confirmed %s into a flood from %d sources", time.Since(started).Round(time.Millisecond), sources)
	stopFlood()
	var tooMany int
	for i := 0; i < sources*xmppauth.MaxPendingPerUserSource; i++ {
		if err := <-results; errors.Is(err, auth.ErrTooMany) {
			tooMany++
		}
	}
	if tooMany == 0 {
		t.Error("no flooding request was told ErrTooMany")
	}
}

// Many users, many concurrent questions each: every answer reaches the
// question it belongs to.
func TestConfirmConcurrentUsers(t *testing.T) {
	ctx := testContext(t)
	const users, perUser = 6, 15
	type u struct {
		client *xmppclient.Client
		answer xmppclient.Answer
	}
	var all []u
	for i := 0; i < users; i++ {
		answer := xmppclient.Accept
		if i%2 == 1 {
			answer = xmppclient.Deny
		}
		c, _ := newUser(t, stack.srv, "busy", answer)
		all = append(all, u{c, answer})
	}
	var wg sync.WaitGroup
	errs := make(chan string, users*perUser)
	for _, usr := range all {
		for j := 0; j < perUser; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := stack.configured.Confirm(ctx, auth.ConfirmRequest{JID: usr.client.JID(), TransactionID: fmt.Sprintf("busy-%d", j), Method: "GET", URL: "u"})
				if (usr.answer == xmppclient.Accept) != (err == nil) || (err != nil && !errors.Is(err, auth.ErrDenied)) {
					errs <- fmt.Sprintf("%s (%s) transaction %d: %v", usr.client.JID(), usr.answer, j, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A flooder that hangs up at once frees its waiting questions, but cannot
// prompt the user faster than QuestionBurst and then one per
// QuestionInterval from one address.
func TestConfirmPromptRateIsBounded(t *testing.T) {
	ctx := testContext(t)
	client, rec := newUser(t, stack.srv, "prompted", xmppclient.Ignore)
	const n = xmppauth.QuestionBurst + 20
	started := time.Now()
	var tooMany int
	for i := 0; i < n; i++ {
		hungUp, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := stack.short.Confirm(hungUp, auth.ConfirmRequest{JID: client.JID(), TransactionID: fmt.Sprintf("prompt-%d", i), Method: "GET", URL: "u", Source: "203.0.113.9"})
		cancel()
		if errors.Is(err, auth.ErrTooMany) {
			tooMany++
		}
	}
	refilled := int(time.Since(started) / xmppauth.QuestionInterval)
	if want := n - xmppauth.QuestionBurst - refilled - 1; tooMany < want {
		t.Errorf("%d of %d hung-up requests refused, want at least %d", tooMany, n, want)
	}
	time.Sleep(100 * time.Millisecond)
	if asked := len(rec.Asked()); asked > xmppauth.QuestionBurst+refilled+1 {
		t.Errorf("the user was prompted %d times in %s, bound %d", asked, time.Since(started).Round(time.Millisecond), xmppauth.QuestionBurst+refilled+1)
	}
	// Another address is not held back by it.
	hungUp, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := stack.short.Confirm(hungUp, auth.ConfirmRequest{JID: client.JID(), TransactionID: "other-address", Method: "GET", URL: "u", Source: "203.0.113.10"}); errors.Is(err, auth.ErrTooMany) {
		t.Errorf("another address: %v", err)
	}
}
