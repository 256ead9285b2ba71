package xmppauth_test

import (
	"context"
	"crypto/sha1"
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"mellium.im/xmpp/jid"
)

// Prosody 0.12 ignores XEP-0059 on the owner affiliation list (it always
// answers the whole list), so the paging walk is tested against this small
// in-process XMPP server instead: it speaks the server side of XEP-0114 on
// a real loopback socket and plays a channel server that pages.
type pagingServer struct {
	t      *testing.T
	ln     net.Listener
	secret string
	// affs is the node's list in server order; page is the page size it
	// uses whatever the client asks.
	affs  [][2]string
	page  int
	model string
	// garbled makes the server answer affiliations with an XML error.
	garbled bool
	// silent makes the server never answer IQs.
	silent bool

	mu     sync.Mutex
	afters []string // the <after/> of each affiliations request
	conns  []net.Conn
}

func newPagingServer(t *testing.T) *pagingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pagingServer{t: t, ln: ln, secret: "s3cret", page: 3, model: "whitelist"}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	go s.accept()
	return s
}

func (s *pagingServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.serve(c)
	}
}

type fakeStanza struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Type    string `xml:"type,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Inner   []byte `xml:",innerxml"`
}

func (s *pagingServer) serve(c net.Conn) {
	defer c.Close()
	d := xml.NewDecoder(c)
	// The component's stream header, then ours with a stream id.
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "stream" {
			break
		}
	}
	const streamID = "fake-stream-1"
	fmt.Fprintf(c, `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='media.test' id='%s'>`, streamID)
	var hs struct {
		Digest string `xml:",chardata"`
	}
	if err := d.Decode(&hs); err != nil {
		return
	}
	if want := fmt.Sprintf("%x", sha1.Sum([]byte(streamID+s.secret))); strings.TrimSpace(hs.Digest) != want {
		fmt.Fprint(c, `<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`)
		return
	}
	fmt.Fprint(c, `<handshake/>`)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		if end, ok := tok.(xml.EndElement); ok && end.Name.Local == "stream" {
			fmt.Fprint(c, `</stream:stream>`) // a clean close answered
			return
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var st fakeStanza
		if err := d.DecodeElement(&st, &start); err != nil {
			return
		}
		if st.XMLName.Local != "iq" || st.Type != "get" || s.silent {
			continue
		}
		reply := s.answer(st)
		fmt.Fprintf(c, `<iq type='result' id='%s' from='%s' to='%s'>%s</iq>`, st.ID, st.To, st.From, reply)
	}
}

func (s *pagingServer) answer(st fakeStanza) string {
	inner := string(st.Inner)
	switch {
	case strings.Contains(inner, "disco#info"):
		return `<query xmlns='http://jabber.org/protocol/disco#info' node='/user/chan@test/posts'><identity category='pubsub' type='leaf'/>` +
			`<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#meta-data</value></field>` +
			`<field var='pubsub#access_model'><value>` + s.model + `</value></field></x></query>`
	case strings.Contains(inner, "affiliations"):
		if s.garbled {
			return `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations><affiliation jid='x@test' affiliation='owner'></pubsub>`
		}
		var req struct {
			Set struct {
				Max   string `xml:"max"`
				After string `xml:"after"`
			} `xml:"http://jabber.org/protocol/rsm set"`
		}
		if err := xml.Unmarshal(st.Inner, &req); err != nil {
			s.t.Errorf("fake server cannot read request %q: %v", inner, err)
		}
		s.mu.Lock()
		s.afters = append(s.afters, req.Set.After)
		s.mu.Unlock()
		start := 0
		if req.Set.After != "" {
			for i, a := range s.affs {
				if a[0] == req.Set.After {
					start = i + 1
				}
			}
		}
		end := min(start+s.page, len(s.affs))
		var b strings.Builder
		b.WriteString(`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='/user/chan@test/posts'>`)
		for _, a := range s.affs[start:end] {
			fmt.Fprintf(&b, `<affiliation jid='%s' affiliation='%s'/>`, a[0], a[1])
		}
		b.WriteString(`</affiliations>`)
		if start < end {
			fmt.Fprintf(&b, `<set xmlns='http://jabber.org/protocol/rsm'><first index='%d'>%s</first><last>%s</last><count>%d</count></set>`,
				start, s.affs[start][0], s.affs[end-1][0], len(s.affs))
		} else {
			fmt.Fprintf(&b, `<set xmlns='http://jabber.org/protocol/rsm'><count>%d</count></set>`, len(s.affs))
		}
		b.WriteString(`</pubsub>`)
		return b.String()
	}
	return ""
}

func (s *pagingServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.afters...)
}

func (s *pagingServer) component(t *testing.T, timeout time.Duration) *xmppauth.Component {
	return s.componentWith(t, xmppauth.Config{ReplyTimeout: timeout, ChannelServer: "channels.test"})
}

func (s *pagingServer) componentWith(t *testing.T, cfg xmppauth.Config) *xmppauth.Component {
	cfg.ComponentJID, cfg.Secret, cfg.ServerAddr = "media.test", s.secret, s.ln.Addr().String()
	c, err := xmppauth.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := c.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAffiliationPaging(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		name      string
		n, page   int
		wantPages int
	}{
		{"several full pages and a short one", 7, 3, 3},
		{"pages that end exactly", 6, 3, 2},
		{"one page", 2, 3, 1},
		{"empty list", 0, 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(t)
			s.page = tt.page
			want := map[string]auth.Affiliation{}
			kinds := []auth.Affiliation{auth.AffOwner, auth.AffModerator, auth.AffPublisher, auth.AffMember, auth.AffOutcast}
			for i := 0; i < tt.n; i++ {
				j := "user" + strconv.Itoa(i) + "@test"
				s.affs = append(s.affs, [2]string{j + "/res", string(kinds[i%len(kinds)])}) // full JIDs count as bare
				want[j] = kinds[i%len(kinds)]
			}
			c := s.component(t, 5*time.Second)
			info, err := c.Channel(ctx, jid.MustParse("chan@test"))
			if err != nil {
				t.Fatal(err)
			}
			if info.AccessModel != "whitelist" || !maps.Equal(info.Affiliations, want) {
				t.Errorf("got %+v, want whitelist with %v", info, want)
			}
			if got := s.requests(); len(got) != tt.wantPages {
				t.Errorf("%d affiliation requests (afters %q), want %d", len(got), got, tt.wantPages)
			}
		})
	}
}

// A channel server that answers nonsense, or does not answer in time,
// is ErrUnavailable: never a zero ChannelInfo that would read as "nobody".
func TestChannelServerFailures(t *testing.T) {
	ctx := testContext(t)
	t.Run("garbled answer", func(t *testing.T) {
		s := newPagingServer(t)
		s.garbled = true
		_, err := s.component(t, 5*time.Second).Channel(ctx, jid.MustParse("chan@test"))
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("Channel = %v, want ErrUnavailable", err)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		s := newPagingServer(t)
		s.silent = true
		started := time.Now()
		_, err := s.component(t, 300*time.Millisecond).Channel(ctx, jid.MustParse("chan@test"))
		if !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("Channel = %v, want ErrUnavailable", err)
		}
		if d := time.Since(started); d > 3*time.Second {
			t.Errorf("took %s with a 300 ms reply timeout", d)
		}
	})
	t.Run("caller gives up on a silent discovery", func(t *testing.T) {
		// Discovery of a domain's channel server is shared by concurrent
		// callers and so runs on whatever the first caller's context; a
		// caller whose own context ends stops waiting at once rather than
		// for the reply timeout.
		s := newPagingServer(t)
		s.silent = true
		c := s.componentWith(t, xmppauth.Config{ReplyTimeout: 10 * time.Second, KeepAlive: -1})
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		started := time.Now()
		if _, err := c.Channel(cctx, jid.MustParse("chan@test")); err == nil {
			t.Error("Channel answered without a channel server")
		}
		if d := time.Since(started); d > 3*time.Second {
			t.Errorf("took %s for a caller whose context ended after 200 ms", d)
		}
	})
	t.Run("silent connection replaced", func(t *testing.T) {
		// A connection that stays open but carries nothing back (a hung
		// server, a vanished NAT entry) is noticed by the keepalive ping
		// and replaced.
		s := newPagingServer(t)
		s.silent = true
		s.componentWith(t, xmppauth.Config{ReplyTimeout: 200 * time.Millisecond, KeepAlive: 100 * time.Millisecond})
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			if n >= 2 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Error("the component kept a silent connection for 5 s")
	})
	t.Run("connection dropped and restored", func(t *testing.T) {
		s := newPagingServer(t)
		c := s.component(t, 5*time.Second)
		s.mu.Lock()
		for _, conn := range s.conns {
			conn.Close()
		}
		s.mu.Unlock()
		// The component notices, reconnects by itself and answers again.
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if _, err = c.Channel(ctx, jid.MustParse("chan@test")); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("no answer 10 s after the connection dropped: %v", err)
		}
	})
}
