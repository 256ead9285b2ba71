// Package mediaclient is a client of the media API (API.md) that works
// like the Android share intent: it logs in to XMPP as the user, finds the
// media server by disco#info on its component, sends requests carrying an
// XEP-0070 transaction id of its own, and accepts the server's
// confirmation question for exactly that id. Uploads stream from their
// reader with an exact Content-Length; downloads stream to the caller.
//
// The mediaserver upload, get and demo commands use it, and so do tests.
package mediaclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
)

// DefaultLoginTimeout bounds login and discovery when Config leaves it 0.
const DefaultLoginTimeout = 15 * time.Second

// Config says as whom to log in and where to find the media server.
type Config struct {
	// JID is the user's JID (user@host); the server assigns the resource.
	JID jid.JID
	// Password is the account's password.
	Password string
	// Server is the XMPP client port (host:port); empty: the DNS SRV
	// record _xmpp-client._tcp of the JID's domain, else domain:5222.
	Server string
	// TLS protects the login with STARTTLS (its ServerName defaults to the
	// JID's domain). Nil logs in without TLS: only for a trusted local
	// XMPP server.
	TLS *tls.Config
	// BaseURL is the media server's base URL; empty: discovered by
	// disco#info on Component.
	BaseURL string
	// Component is the media component's JID to discover the URL from;
	// empty: media.<the JID's domain>.
	Component string
	// LoginTimeout bounds login and discovery; 0 is DefaultLoginTimeout.
	LoginTimeout time.Duration
	// OnConfirm, when set, is told of each confirmation request of this
	// client's own transaction, which the client accepts.
	OnConfirm func(auth.ConfirmRequest)
}

// Client is a logged-in user talking to one media server.
type Client struct {
	xmpp *xmppclient.Client
	base string // without a trailing slash
	// cred is "full JID:transaction id", the credentials of every request.
	cred string
	http *http.Client
}

// Dial logs in and finds the media server. The client accepts the
// confirmation of its own transaction id only; any other question
// (another device's request, or an attacker's guess) is left unanswered
// for the user's other clients.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.JID.Localpart() == "" {
		return nil, fmt.Errorf("mediaclient: %q is not a user JID", cfg.JID)
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = DefaultLoginTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.LoginTimeout)
	defer cancel()
	addr := cfg.Server
	if addr == "" {
		addr = ServerAddr(ctx, cfg.JID.Domainpart())
	}
	// The transaction id is unguessable, so that nobody else can make the
	// client accept their request.
	tid := rand.Text()
	answer := func(req auth.ConfirmRequest) xmppclient.Answer {
		if req.TransactionID != tid {
			return xmppclient.Ignore
		}
		if cfg.OnConfirm != nil {
			cfg.OnConfirm(req)
		}
		return xmppclient.Accept
	}
	xc, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr: addr, JID: cfg.JID.Bare(), Password: cfg.Password, DialTimeout: cfg.LoginTimeout, TLS: cfg.TLS,
	}, answer)
	if err != nil {
		return nil, fmt.Errorf("log in to XMPP at %s: %w", addr, err)
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		component := cfg.Component
		if component == "" {
			component = "media." + cfg.JID.Domainpart()
		}
		if base, err = Discover(ctx, xc, component); err != nil {
			xc.Close()
			return nil, err
		}
		base = strings.TrimRight(base, "/")
	}
	if err := xmppwire.CheckEndpoint(base); err != nil {
		xc.Close()
		return nil, fmt.Errorf("media server URL: %w", err)
	}
	return &Client{
		xmpp: xc,
		base: base,
		// The full JID as bound: the server asks exactly the JID it is
		// given, so this session, not all of the user's devices, gets the
		// question.
		cred: xc.JID().String() + ":" + tid,
		http: newHTTPClient(),
	}, nil
}

// newHTTPClient has no overall timeout: a large upload over a slow link
// takes as long as it takes. Each phase that can hang is bounded instead;
// the answer to an upload comes after the server has confirmed with us and
// stored and previewed the file.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		IdleConnTimeout:       90 * time.Second,
	}}
}

// Close ends the XMPP session.
func (c *Client) Close() error { return c.xmpp.Close() }

// JID is the full JID the client is logged in as.
func (c *Client) JID() jid.JID { return c.xmpp.JID() }

// BaseURL is the media server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// ChannelURL is the URL of a channel's media list (and uploads).
func (c *Client) ChannelURL(channel string) string { return c.base + "/" + channel }

// ItemURL is the URL of one item of a channel.
func (c *Client) ItemURL(channel, id string) string {
	return c.ChannelURL(channel) + "/" + url.PathEscape(id)
}

// AuthQuery is the client's credentials as the auth query parameter
// ("auth=..."), for links that carry them (API.md).
func (c *Client) AuthQuery() string {
	return "auth=" + base64.RawURLEncoding.EncodeToString([]byte(c.cred))
}

// authorization is the client's credentials as a Basic Authorization value.
func (c *Client) authorization() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.cred))
}

// ServerAddr finds the XMPP client port of domain as RFC 6120 says: the
// DNS SRV record, else the domain itself on port 5222.
func ServerAddr(ctx context.Context, domain string) string {
	_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "xmpp-client", "tcp", domain)
	if err == nil && len(srvs) > 0 && srvs[0].Target != "." {
		return net.JoinHostPort(strings.TrimSuffix(srvs[0].Target, "."), strconv.Itoa(int(srvs[0].Port)))
	}
	return net.JoinHostPort(domain, "5222")
}

// ErrNotDiscovered: the media component did not say where the media
// server is (Config.BaseURL gives it instead).
var ErrNotDiscovered = errors.New("media server not discovered")

// Discover asks the media component for its disco#info and returns the
// endpoint of its API form (API.md, "Discovery").
func Discover(ctx context.Context, xc *xmppclient.Client, component string) (string, error) {
	to, err := jid.Parse(component)
	if err != nil {
		return "", fmt.Errorf("%w: media component %q: %w", ErrNotDiscovered, component, err)
	}
	var info xmppwire.DiscoInfo
	err = xc.Session().UnmarshalIQElement(ctx,
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"}}),
		stanza.IQ{Type: stanza.GetIQ, To: to}, &info)
	if err != nil {
		return "", fmt.Errorf("%w: disco#info on %s: %w", ErrNotDiscovered, component, err)
	}
	endpoint := info.Endpoint()
	if endpoint == "" {
		return "", fmt.Errorf("%w: %s announces no API endpoint (is http.public_url set on the server?)", ErrNotDiscovered, component)
	}
	return endpoint, nil
}
