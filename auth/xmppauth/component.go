// Package xmppauth is the media server's XMPP side: an external component
// (XEP-0114) that answers disco#info and ping, asks users to confirm
// requests (XEP-0070, an auth.Confirmer) and reads access models and
// affiliations from the channel server (XEP-0060, an auth.Channels).
//
// The component keeps one session to the XMPP server and reconnects by
// itself with capped exponential backoff. While it is disconnected every
// question fails fast with auth.ErrUnavailable (503), never with a grant.
package xmppauth

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"github.com/xmppmedia/mediaserver/internal/ttlcache"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Defaults for zero Config fields.
const (
	DefaultReplyTimeout = 30 * time.Second
	DefaultKeepAlive    = 30 * time.Second
)

// Reconnect backoff bounds, and how long a connection attempt may take.
const (
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	dialTimeout = 10 * time.Second
	// closeWait bounds the wait for the server to end its stream on shutdown.
	closeWait = 2 * time.Second
)

// Config is the component's configuration (the xmpp.* keys of CONFIG.md).
type Config struct {
	// ComponentJID is this component's JID, e.g. "media.example.com".
	ComponentJID string
	// Secret is the XEP-0114 shared secret.
	Secret string
	// ServerAddr is the XMPP server's component port (host:port).
	ServerAddr string
	// ChannelServer is the channel (pubsub) server's JID; empty: discover
	// it per entity domain.
	ChannelServer string
	// PublicURL is announced as the API endpoint in disco#info; empty: no
	// endpoint form.
	PublicURL string
	// ReplyTimeout bounds the wait for a XEP-0070 answer and for each
	// channel-server reply; zero is DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// KeepAlive is how often the component pings itself through the
	// server; a ping unanswered within ReplyTimeout drops the connection
	// so that a silently dead one (a vanished NAT entry, a hung server) is
	// replaced. Zero is DefaultKeepAlive; negative disables it.
	KeepAlive time.Duration
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	j, err := jid.Parse(c.ComponentJID)
	if err != nil || c.ComponentJID == "" {
		return fmt.Errorf("xmpp component_jid %q: not a JID", c.ComponentJID)
	}
	if j.Localpart() != "" || j.Resourcepart() != "" {
		return fmt.Errorf("xmpp component_jid %q: must be a bare domain", c.ComponentJID)
	}
	if c.Secret == "" {
		return errors.New("xmpp component_secret is empty")
	}
	if _, _, err := net.SplitHostPort(c.ServerAddr); err != nil {
		return fmt.Errorf("xmpp server_addr %q: %w", c.ServerAddr, err)
	}
	if c.ChannelServer != "" {
		if _, err := jid.Parse(c.ChannelServer); err != nil {
			return fmt.Errorf("xmpp channel_server %q: %w", c.ChannelServer, err)
		}
	}
	if c.PublicURL != "" {
		if err := xmppwire.CheckEndpoint(c.PublicURL); err != nil {
			return fmt.Errorf("http public_url: %w", err)
		}
	}
	if c.ReplyTimeout < 0 {
		return fmt.Errorf("xmpp reply_timeout %s: negative", c.ReplyTimeout)
	}
	return nil
}

// Component is the media server's XMPP component. It implements
// auth.Confirmer and auth.Channels. Create it with New and start Run.
type Component struct {
	cfg           Config
	jid           jid.JID
	channelServer jid.JID // zero: discover
	log           *slog.Logger

	mu      sync.Mutex
	running bool
	sess    *xmpp.Session   // nil while disconnected
	sessCtx context.Context // cancelled when sess ends
	up      chan struct{}   // closed while connected

	confirms confirmTable
	iqsSent  atomic.Int64

	discovery  ttlcache.Group[jid.JID]
	discovered *ttlcache.Cache[jid.JID] // domain → channel server (zero: none)

	slots SlotService // nil: not an upload service (upload.go)
}

// New checks cfg and returns a component that is not yet connected.
func New(cfg Config, log *slog.Logger) (*Component, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReplyTimeout == 0 {
		cfg.ReplyTimeout = DefaultReplyTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Component{
		cfg:        cfg,
		jid:        jid.MustParse(cfg.ComponentJID),
		log:        log.With("component", cfg.ComponentJID),
		up:         make(chan struct{}),
		discovered: ttlcache.New[jid.JID](discoveryTTL, maxDiscovered),
	}
	if cfg.ChannelServer != "" {
		c.channelServer = jid.MustParse(cfg.ChannelServer)
	}
	c.confirms.init()
	return c, nil
}

// IQsSent is how many IQs the component has sent (channel-server
// lookups, discovery, keepalive pings), for measuring what a lookup costs.
func (c *Component) IQsSent() int64 { return c.iqsSent.Load() }

// JID is the component's address.
func (c *Component) JID() jid.JID { return c.jid }

// Connected reports whether the session to the XMPP server is up.
func (c *Component) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil
}

// WaitConnected blocks until the component is connected or ctx ends.
func (c *Component) WaitConnected(ctx context.Context) error {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for xmpp connection: %w", ctx.Err())
	}
}

// current returns the live session and a context that ends with it.
func (c *Component) current() (*xmpp.Session, context.Context, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess, c.sessCtx, c.sess != nil
}

// Run connects and serves until ctx ends, reconnecting with exponential
// backoff (100 ms doubling to 5 s) whenever the connection fails or drops.
// When ctx ends it closes the session cleanly and returns nil. Run may be
// called only once at a time.
func (c *Component) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("xmppauth: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	backoff := minBackoff
	for ctx.Err() == nil {
		sess, err := c.dial(ctx)
		if err == nil {
			c.log.Info("xmpp component connected", "server", c.cfg.ServerAddr)
			started := time.Now()
			err = c.serve(ctx, sess)
			if ctx.Err() != nil {
				break
			}
			c.log.Warn("xmpp component disconnected", "server", c.cfg.ServerAddr, "err", err)
			// A session that lived a while was healthy: retry quickly. One
			// that dies at once (e.g. refused) keeps backing off.
			if time.Since(started) > maxBackoff {
				backoff = minBackoff
			}
		} else if ctx.Err() == nil {
			c.log.Warn("xmpp component connect failed", "server", c.cfg.ServerAddr, "err", err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
	c.log.Info("xmpp component stopped")
	return nil
}

func (c *Component) dial(ctx context.Context) (*xmpp.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.cfg.ServerAddr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.cfg.ServerAddr, err)
	}
	// The handshake must not hang on a server that accepts and says nothing.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	sess, err := component.NewSession(ctx, c.jid, []byte(c.cfg.Secret), conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("component handshake with %s: %w", c.cfg.ServerAddr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return sess, nil
}

// serve publishes sess, serves it until it ends or ctx ends, and then
// withdraws it so that waiting questions fail with ErrUnavailable.
func (c *Component) serve(ctx context.Context, sess *xmpp.Session) error {
	sessCtx, endSess := context.WithCancel(context.Background())
	c.mu.Lock()
	c.sess, c.sessCtx = sess, sessCtx
	close(c.up)
	c.mu.Unlock()

	served := make(chan error, 1)
	go func() { served <- sess.Serve(xmpp.HandlerFunc(c.handle)) }()
	if c.cfg.KeepAlive > 0 {
		go c.keepAlive(sessCtx, sess)
	}
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		// Close our stream and give the server a moment to close its own,
		// so it sees a clean end rather than a dropped connection.
		_ = sess.Close()
		select {
		case err = <-served:
		case <-time.After(closeWait):
			_ = sess.Conn().Close()
			err = <-served
		}
	}
	c.mu.Lock()
	c.sess, c.sessCtx = nil, nil
	c.up = make(chan struct{})
	c.mu.Unlock()
	endSess()
	_ = sess.Conn().Close()
	return err
}

// keepAlive pings the component's own JID through the server until the
// session ends, and drops a connection whose ping goes unanswered. Any
// answer, even an error, proves the path is alive.
func (c *Component) keepAlive(sessCtx context.Context, sess *xmpp.Session) {
	ticker := time.NewTicker(c.cfg.KeepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-sessCtx.Done():
			return
		case <-ticker.C:
		}
		err := c.iq(sessCtx, stanza.GetIQ, c.jid, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSPing, Local: "ping"}}), nil)
		var se stanza.Error
		if err != nil && !errors.As(err, &se) && sessCtx.Err() == nil {
			c.log.Warn("xmpp keepalive ping unanswered; reconnecting", "err", err)
			_ = sess.Conn().Close()
			return
		}
	}
}

// handle answers stanzas addressed to the component. It never returns an
// error (that would end the session) and never uses the session's send
// methods (that would deadlock): replies go through t.
func (c *Component) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	switch start.Name.Local {
	case "iq":
		c.handleIQ(t, start)
	case "message":
		c.handleMessage(t, start)
	}
	return nil
}

// info is the component's own disco#info answer (API.md): clients find
// the media server by this exact identity and the endpoint form.
func (c *Component) info() xmppwire.DiscoInfo {
	q := xmppwire.DiscoInfo{
		Identities: []xmppwire.DiscoIdentity{{Category: "component", Type: "generic", Name: "Media Server"}},
		Features:   []xmppwire.DiscoFeature{{Var: xmppwire.NSDiscoInfo}, {Var: xmppwire.NSPing}},
	}
	if c.cfg.PublicURL != "" {
		q.Forms = []xmppwire.DataForm{xmppwire.APIForm(c.cfg.PublicURL)}
	}
	c.addUploadInfo(&q)
	return q
}

// handleIQ answers disco#info, disco#items and ping, takes IQ answers to
// confirmation requests, and refuses everything else. mellium sends its
// default error reply only for jabber:client and jabber:server streams,
// so on this component stream every get or set is answered here.
func (c *Component) handleIQ(t xmlstream.TokenReadEncoder, start *xml.StartElement) {
	iq, err := stanza.NewIQ(*start)
	if err != nil {
		return
	}
	switch iq.Type {
	case stanza.GetIQ, stanza.SetIQ:
		// The handler's reader starts after the stanza's start element.
		payload, ok := nextStart(t)
		if !ok {
			c.writeIQError(t, iq, stanza.BadRequest)
			return
		}
		node := attrValue(payload, "node")
		switch {
		case iq.Type != stanza.GetIQ:
			c.writeIQError(t, iq, stanza.ServiceUnavailable)
		case payload.Name == xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"}:
			if node != "" {
				c.writeIQError(t, iq, stanza.ItemNotFound)
				return
			}
			c.writeIQResult(t, iq, c.info())
		case payload.Name == xml.Name{Space: xmppwire.NSDiscoItems, Local: "query"}:
			if node != "" {
				c.writeIQError(t, iq, stanza.ItemNotFound)
				return
			}
			c.writeIQResult(t, iq, xmppwire.DiscoItems{})
		case payload.Name == xml.Name{Space: xmppwire.NSPing, Local: "ping"}:
			c.writeIQResult(t, iq, nil)
		case payload.Name == xml.Name{Space: xmppwire.NSHTTPUpload, Local: "request"}:
			c.answerSlot(t, iq, payload)
		default:
			c.writeIQError(t, iq, stanza.ServiceUnavailable)
		}
	case stanza.ResultIQ, stanza.ErrorIQ:
		// Replies to the component's own IQs are routed by the session and
		// never get here; this is a client answering a confirm message with
		// an IQ.
		var r inbound
		if err := xmppwire.DecodeStanza(t, start, &r); err != nil {
			return
		}
		c.confirms.resolve(r, iq.Type == stanza.ErrorIQ)
	}
}

func (c *Component) writeIQResult(t xmlstream.TokenReadEncoder, iq stanza.IQ, payload any) {
	reply := stanza.IQ{ID: iq.ID, To: c.replyTo(iq), From: c.jid, Type: stanza.ResultIQ}.StartElement()
	if err := t.EncodeToken(reply); err != nil {
		return
	}
	if payload != nil {
		if err := t.Encode(payload); err != nil {
			c.log.Warn("encode iq reply", "err", err)
		}
	}
	_ = t.EncodeToken(reply.End())
}

func (c *Component) writeIQError(t xmlstream.TokenReadEncoder, iq stanza.IQ, cond stanza.Condition) {
	reply := stanza.IQ{ID: iq.ID, To: c.replyTo(iq), From: c.jid, Type: stanza.ErrorIQ}
	_, _ = xmlstream.Copy(t, reply.Wrap(stanza.Error{Type: stanza.Cancel, Condition: cond}.TokenReader()))
}

// replyTo is where a reply to iq goes. mellium blanks the from of a
// stanza from the component's own JID (the keepalive ping it sends
// itself), and ejabberd ends a component stream that sends a stanza
// without to (improper-addressing): such a reply goes to the component's
// own JID, where the ping came from.
func (c *Component) replyTo(iq stanza.IQ) jid.JID {
	if iq.From.Equal(jid.JID{}) {
		return c.jid
	}
	return iq.From
}

// nextStart returns the next start element read from r (skipping
// whitespace and other tokens), or false.
func nextStart(r xml.TokenReader) (xml.StartElement, bool) {
	for {
		tok, err := r.Token()
		if err != nil {
			return xml.StartElement{}, false
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, true
		}
	}
}

func attrValue(start xml.StartElement, local string) string {
	for _, a := range start.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
