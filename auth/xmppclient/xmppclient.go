// Package xmppclient is a small XMPP client (c2s) that logs a user in and
// answers the media server's XEP-0070 confirmation requests through a
// callback. Tests use it as the "real user"; package mediaclient (the
// upload, get and demo commands) uses it to confirm its own requests.
//
// It offers SASL SCRAM before PLAIN. With Config.TLS it negotiates
// STARTTLS first; without, it logs in on the bare connection, which only a
// trusted server on the loopback interface (such as the one localxmpp
// starts) should accept.
package xmppclient

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Answer is what the user says to a confirmation request.
type Answer int

const (
	// Accept echoes the request back (the user made it).
	Accept Answer = iota
	// Deny replies with a type='error' message (not-authorized).
	Deny
	// Ignore sends nothing, so the server times out.
	Ignore
)

func (a Answer) String() string {
	switch a {
	case Accept:
		return "accept"
	case Deny:
		return "deny"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("Answer(%d)", int(a))
}

// AnswerFunc decides a confirmation request. req.JID is the address the
// request was sent to (this client's full or bare JID). It runs on its own
// goroutine and may block (e.g. to ask a person).
type AnswerFunc func(req auth.ConfirmRequest) Answer

// Config says where and as whom to log in.
type Config struct {
	// Addr is the server's c2s address (host:port).
	Addr string
	// JID is the user's JID. The server assigns the resource (mellium
	// v0.22 does not pass a requested one on); read it from Client.JID.
	JID jid.JID
	// Password is the account's password.
	Password string
	// DialTimeout bounds the connection and login (10s).
	DialTimeout time.Duration
	// TraceIn, when set, gets a copy of the XML the server sends (for
	// debugging, and for tests that check the wire format).
	TraceIn io.Writer
	// TLS, when set, makes the login use STARTTLS with this configuration
	// (its ServerName defaults to the JID's domain) and SCRAM before
	// PLAIN. Nil logs in without TLS: only for a trusted local server.
	TLS *tls.Config
}

// Client is a logged-in user session.
type Client struct {
	sess   *xmpp.Session
	answer AnswerFunc

	wg       sync.WaitGroup // answer goroutines
	closeMu  sync.Mutex
	closed   bool
	done     chan struct{} // closed when the session has ended
	serveErr error         // why, set before done is closed
}

// Dial connects, logs in, binds a resource and sends initial presence (so
// messages to the bare JID reach this client too). A nil answer ignores
// every confirmation request.
func Dial(ctx context.Context, cfg Config, answer AnswerFunc) (*Client, error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.JID.Localpart() == "" {
		return nil, fmt.Errorf("xmppclient: %q is not a user JID", cfg.JID)
	}
	if answer == nil {
		answer = func(auth.ConfirmRequest) Answer { return Ignore }
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.Addr, err)
	}
	features := []xmpp.StreamFeature{
		xmpp.SASL("", cfg.Password, sasl.ScramSha256Plus, sasl.ScramSha256, sasl.ScramSha1Plus, sasl.ScramSha1, sasl.Plain),
		xmpp.BindResource(),
	}
	// Without TLS, starting in the Secure state makes the negotiator offer
	// SASL on the bare connection, which a loopback test server accepts.
	state := xmpp.Secure
	if cfg.TLS != nil {
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			tc.ServerName = cfg.JID.Domainpart()
		}
		features = append([]xmpp.StreamFeature{xmpp.StartTLS(tc)}, features...)
		state = 0
	}
	sess, err := xmpp.NewSession(ctx, cfg.JID.Domain(), cfg.JID, conn, state,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features, TeeIn: cfg.TraceIn}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("log in %s: %w", cfg.JID, err)
	}
	c := &Client{sess: sess, answer: answer, done: make(chan struct{})}
	go func() {
		c.serveErr = sess.Serve(xmpp.HandlerFunc(c.handle))
		close(c.done)
	}()
	if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		c.Close()
		return nil, fmt.Errorf("presence %s: %w", cfg.JID, err)
	}
	return c, nil
}

// JID is the bound full JID.
func (c *Client) JID() jid.JID { return c.sess.LocalAddr() }

// Done is closed when the session has ended (Close, or the server went
// away); Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the error that ended the session, nil for a clean end or while
// it is still up.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.serveErr
	default:
		return nil
	}
}

// Session is the underlying session, for sending other stanzas (it is
// already being served: use its Send/SendIQ methods, not Serve).
func (c *Client) Session() *xmpp.Session { return c.sess }

// Close ends the session and waits for pending answers to finish.
func (c *Client) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	c.closeMu.Unlock()
	err := c.sess.Close()
	// Serve returns when the server closes its side; do not wait forever
	// for a server that went away.
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	cerr := c.sess.Conn().Close()
	<-c.done
	c.wg.Wait()
	if err != nil {
		return fmt.Errorf("close session: %w", err)
	}
	if cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		return fmt.Errorf("close connection: %w", cerr)
	}
	return nil
}

// confirmMessage is an incoming XEP-0070 request.
type confirmMessage struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	Thread  string `xml:"thread"`
	Confirm *xmppwire.Confirm
}

func (c *Client) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "message" {
		return nil // IQs get the session's default error reply
	}
	var m confirmMessage
	if err := xmppwire.DecodeStanza(t, start, &m); err != nil {
		return nil // a stanza we cannot read is not ours to answer
	}
	if m.Confirm == nil || m.Type == string(stanza.ErrorMessage) {
		return nil
	}
	from, err := jid.Parse(m.From)
	if err != nil {
		return nil
	}
	to, err := jid.Parse(m.To)
	if err != nil {
		to = c.JID()
	}
	req := auth.ConfirmRequest{JID: to, TransactionID: m.Confirm.ID, Method: m.Confirm.Method, URL: m.Confirm.URL}
	reply := Reply{To: from, Request: req, MessageID: m.ID, Thread: m.Thread}
	// Answer off the Serve goroutine: the callback may block, and a handler
	// must not use the session's send methods.
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return nil
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		reply.Answer = c.answer(req)
		if reply.Answer == Ignore {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.SendReply(ctx, reply)
	}()
	return nil
}

// Reply is a confirmation answer as sent on the wire.
type Reply struct {
	// To is the media server's JID.
	To jid.JID
	// Request is echoed in the confirm element (transaction id, method, url).
	Request auth.ConfirmRequest
	// MessageID and Thread echo the request's message id and thread; they
	// may be empty for a reply made up by a test.
	MessageID, Thread string
	// Answer is Accept or Deny (Ignore sends nothing).
	Answer Answer
}

// SendReply sends a confirmation answer. Tests use it to forge answers for
// transactions that were asked of someone else.
func (c *Client) SendReply(ctx context.Context, r Reply) error {
	if r.Answer == Ignore {
		return nil
	}
	msg := stanza.Message{ID: r.MessageID, To: r.To, Type: stanza.NormalMessage}
	confirm := xmppwire.Confirm{ID: r.Request.TransactionID, Method: r.Request.Method, URL: r.Request.URL}
	parts := []xml.TokenReader{}
	if r.Thread != "" {
		parts = append(parts, xmlstream.Wrap(xmlstream.Token(xml.CharData(r.Thread)), xml.StartElement{Name: xml.Name{Local: "thread"}}))
	}
	parts = append(parts, confirm.TokenReader())
	if r.Answer == Deny {
		msg.Type = stanza.ErrorMessage
		parts = append(parts, stanza.Error{Type: stanza.Auth, Condition: stanza.NotAuthorized}.TokenReader())
	}
	if err := c.sess.Send(ctx, msg.Wrap(xmlstream.MultiReader(parts...))); err != nil {
		return fmt.Errorf("send %s for %s: %w", r.Answer, r.Request.TransactionID, err)
	}
	return nil
}
