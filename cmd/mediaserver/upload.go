package main

// mediaserver upload and mediaserver get: command-line clients of the
// media API that work like the Android share intent. They log in to XMPP
// as the user, send requests with an XEP-0070 transaction id of their own,
// and accept the server's confirmation question for exactly that id.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/transform"
)

// clientPreviewBoxes are the preview URLs upload prints: the two phone
// screen classes the server makes at upload time.
var clientPreviewBoxes = []transform.Box{{Width: 240, Height: 320}, {Width: 320, Height: 480}}

// clientFlags are the login and discovery flags upload and get share.
type clientFlags struct {
	jid          string
	password     string
	passwordFile string
	server       string
	baseURL      string
	component    string
	timeout      time.Duration
	plaintext    bool
	tlsCA        string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.jid, "jid", "", "your `JID` (user@host; a /resource is assigned by the server)")
	fs.StringVar(&f.password, "password", "", "your XMPP password (visible to other local users in ps; prefer --password-file)")
	fs.StringVar(&f.passwordFile, "password-file", "", "read the password from the first line of `FILE`")
	fs.StringVar(&f.server, "server", "", "XMPP client port `host:port` (default: DNS SRV _xmpp-client._tcp of the JID's domain, else domain:5222)")
	fs.StringVar(&f.baseURL, "url", "", "media server base `URL` (default: discovered by disco#info on the media component)")
	fs.StringVar(&f.component, "component", "", "media component `JID` to discover the URL from (default media.<domain>)")
	fs.DurationVar(&f.timeout, "login-timeout", 15*time.Second, "bound on XMPP login and discovery")
	fs.BoolVar(&f.plaintext, "plaintext", false, "log in without TLS (only for a trusted local XMPP server)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "trust the certificates in PEM `FILE` for the XMPP server (default: the system's)")
}

// tlsConfig is how the login is protected: STARTTLS verified against the
// system's roots or --tls-ca, unless --plaintext.
func (f clientFlags) tlsConfig() (*tls.Config, error) {
	if f.plaintext {
		if f.tlsCA != "" {
			return nil, errors.New("--plaintext and --tls-ca exclude each other")
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.tlsCA != "" {
		pemData, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", f.tlsCA)
		}
	}
	return cfg, nil
}

// mediaClient is a logged-in user talking to one media server.
type mediaClient struct {
	xmpp *xmppclient.Client
	base string // without a trailing slash
	// authorization is the Basic value carrying (full JID, transaction id).
	authorization string
	http          *http.Client
}

// dialMediaClient logs in and finds the media server. The returned client
// accepts the confirmation of its own transaction id only; any other
// question (another device's request, or an attacker's guess) is left
// unanswered for the user's other clients.
func dialMediaClient(ctx context.Context, f clientFlags) (*mediaClient, error) {
	if f.jid == "" {
		return nil, errors.New("--jid is required")
	}
	user, err := jid.Parse(f.jid)
	if err != nil || user.Localpart() == "" {
		return nil, fmt.Errorf("--jid %q: want user@host", f.jid)
	}
	password, err := f.readPassword()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	addr := f.server
	if addr == "" {
		addr = clientAddr(ctx, user.Domain().String())
	}
	tid := randomTransactionID()
	answer := func(req auth.ConfirmRequest) xmppclient.Answer {
		if req.TransactionID == tid {
			return xmppclient.Accept
		}
		return xmppclient.Ignore
	}
	xc, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: addr, JID: user.Bare(), Password: password, DialTimeout: f.timeout, TLS: tlsCfg}, answer)
	if err != nil {
		return nil, fmt.Errorf("log in to XMPP at %s: %w", addr, err)
	}
	base := strings.TrimRight(f.baseURL, "/")
	if base == "" {
		component := f.component
		if component == "" {
			component = "media." + user.Domain().String()
		}
		if base, err = discoverEndpoint(ctx, xc, component); err != nil {
			xc.Close()
			return nil, fmt.Errorf("%w (give the server's URL with --url)", err)
		}
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		xc.Close()
		return nil, fmt.Errorf("media server URL %q is not an http(s) URL", base)
	}
	// The full JID as bound: the server asks exactly the JID it is given,
	// so this session, not all of the user's devices, gets the question.
	cred := xc.JID().String() + ":" + tid
	return &mediaClient{
		xmpp:          xc,
		base:          base,
		authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)),
		// No overall timeout: a large upload over a slow link takes as long
		// as it takes. Each phase that can hang is bounded instead; the
		// answer to an upload comes after the server has confirmed with us
		// and stored and previewed the file.
		http: &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			IdleConnTimeout:       90 * time.Second,
		}},
	}, nil
}

func (c *mediaClient) Close() error { return c.xmpp.Close() }

func (f clientFlags) readPassword() (string, error) {
	switch {
	case f.password != "" && f.passwordFile != "":
		return "", errors.New("give --password or --password-file, not both")
	case f.password != "":
		return f.password, nil
	case f.passwordFile != "":
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	}
	return "", errors.New("--password or --password-file is required")
}

// clientAddr finds the XMPP client port of domain as RFC 6120 says: the
// DNS SRV record, else the domain itself on port 5222.
func clientAddr(ctx context.Context, domain string) string {
	_, srvs, err := net.DefaultResolver.LookupSRV(ctx, "xmpp-client", "tcp", domain)
	if err == nil && len(srvs) > 0 && srvs[0].Target != "." {
		return net.JoinHostPort(strings.TrimSuffix(srvs[0].Target, "."), strconv.Itoa(int(srvs[0].Port)))
	}
	return net.JoinHostPort(domain, "5222")
}

func randomTransactionID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// discoverEndpoint asks the media component for its disco#info and returns
// the endpoint of its XEP-0128 API form (API.md, "Discovery").
func discoverEndpoint(ctx context.Context, xc *xmppclient.Client, component string) (string, error) {
	to, err := jid.Parse(component)
	if err != nil {
		return "", fmt.Errorf("media component %q: %w", component, err)
	}
	var info struct {
		Identities []struct {
			Category string `xml:"category,attr"`
			Type     string `xml:"type,attr"`
			Name     string `xml:"name,attr"`
		} `xml:"identity"`
		Forms []struct {
			Fields []struct {
				Var    string   `xml:"var,attr"`
				Values []string `xml:"value"`
			} `xml:"field"`
		} `xml:"jabber:x:data x"`
	}
	err = xc.Session().UnmarshalIQElement(ctx,
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppauth.NSDiscoInfo, Local: "query"}}),
		stanza.IQ{Type: stanza.GetIQ, To: to}, &info)
	if err != nil {
		return "", fmt.Errorf("disco#info on %s: %w", component, err)
	}
	for _, form := range info.Forms {
		var formType, endpoint string
		for _, f := range form.Fields {
			if len(f.Values) == 0 {
				continue
			}
			switch f.Var {
			case "FORM_TYPE":
				formType = f.Values[0]
			case "endpoint":
				endpoint = f.Values[0]
			}
		}
		if formType == xmppauth.APIFormType && endpoint != "" {
			return endpoint, nil
		}
	}
	return "", fmt.Errorf("%s announces no API endpoint (is http.public_url set on the server?)", component)
}

// parseInterleaved parses flags that may come between and after the
// positional arguments (`get CHANNEL ID --box 240x320 OUT`), which the flag
// package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// signalContext ends on Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runUpload implements
//
//	mediaserver upload --jid JID (--password P | --password-file F) [--server host:port]
//	  [--url BASE | --component JID] [--title T] [--description D] [--quiet] CHANNEL FILE...
//
// It prints, for each file, the item's URL and, for images and videos, the
// URLs of its 240x320 and 320x480 previews.
func runUpload(args []string, stdout, stderr io.Writer) error {
	if wantsXEP0363(args) {
		return runUploadXEP0363(args, stdout, stderr) // upload_xep0363.go
	}
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	title := fs.String("title", "", "title of every uploaded item")
	description := fs.String("description", "", "description of every uploaded item")
	quiet := fs.Bool("quiet", false, "no progress output, only the URLs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mediaserver upload --jid JID --password P [flags] CHANNEL FILE...")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		fs.Usage()
		return errors.New("upload: want a CHANNEL and at least one FILE")
	}
	channel, err := channelOf(pos[0])
	if err != nil {
		return err
	}
	files := pos[1:]
	for _, name := range files {
		if st, err := os.Stat(name); err != nil {
			return fmt.Errorf("upload: %w", err)
		} else if !st.Mode().IsRegular() {
			return fmt.Errorf("upload: %s is not a regular file", name)
		}
	}

	ctx, stop := signalContext()
	defer stop()
	c, err := dialMediaClient(ctx, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	var failed int
	for _, name := range files {
		var progress io.Writer = stdout
		if *quiet {
			progress = io.Discard
		}
		item, err := c.upload(ctx, channel, name, *title, *description, newProgress(progress, isTerminal(stdout), filepath.Base(name)))
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "mediaserver: upload %s: %v\n", name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		itemURL := c.base + "/" + channel + "/" + item.ID
		fmt.Fprintf(stdout, "%s: uploaded as %s (%s, %s)\n", name, item.ID, humanBytes(item.FileSize), item.MimeType)
		fmt.Fprintf(stdout, "  url             %s\n", itemURL)
		if strings.HasPrefix(item.MimeType, "image/") || strings.HasPrefix(item.MimeType, "video/") {
			for _, b := range clientPreviewBoxes {
				fmt.Fprintf(stdout, "  preview %-7s %s?maxwidth=%d&maxheight=%d\n", b, itemURL, b.Width, b.Height)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d uploads failed", failed, len(files))
	}
	return nil
}

// channelOf checks a channel argument: a bare JID.
func channelOf(s string) (string, error) {
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
		return "", fmt.Errorf("channel %q: want a bare JID such as alice@example.com", s)
	}
	return j.String(), nil
}

// uploaded is the part of the media JSON the client reads.
type uploaded struct {
	ID       string `json:"id"`
	MimeType string `json:"mimeType"`
	FileSize int64  `json:"fileSize"`
}

// upload posts one file as multipart/form-data, streaming it from disk
// with an exact Content-Length (so the server can refuse an oversized file
// before it is sent, and progress is true).
func (c *mediaClient) upload(ctx context.Context, channel, name, title, description string, p *progress) (uploaded, error) {
	f, err := os.Open(name)
	if err != nil {
		return uploaded{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return uploaded{}, err
	}
	contentType, err := detectContentType(f, name)
	if err != nil {
		return uploaded{}, err
	}

	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	fields := [][2]string{{"content-type", contentType}, {"filename", filepath.Base(name)}, {"title", title}, {"description", description}}
	for _, kv := range fields {
		if kv[1] != "" {
			mw.WriteField(kv[0], kv[1])
		}
	}
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "data", "filename": filepath.Base(name)}))
	hdr.Set("Content-Type", contentType)
	if _, err := mw.CreatePart(hdr); err != nil {
		return uploaded{}, err
	}
	prefix := append([]byte(nil), head.Bytes()...)
	head.Reset()
	mw.Close() // writes the closing boundary into head
	suffix := head.Bytes()

	p.start(st.Size())
	body := io.MultiReader(bytes.NewReader(prefix), p.reader(f), bytes.NewReader(suffix))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+channel, body)
	if err != nil {
		return uploaded{}, err
	}
	req.ContentLength = int64(len(prefix)) + st.Size() + int64(len(suffix))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", c.authorization)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	p.finish()
	if err != nil {
		return uploaded{}, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return uploaded{}, statusError(resp, answer)
	}
	var item uploaded
	if err := json.Unmarshal(answer, &item); err != nil || item.ID == "" {
		return uploaded{}, fmt.Errorf("server answered 201 without a media id: %.200s", answer)
	}
	return item, nil
}

// detectContentType names the file's type by its extension, else by its
// first bytes, and rewinds the file.
func detectContentType(f *os.File, name string) (string, error) {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		return t, nil
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return http.DetectContentType(head[:n]), nil
}

// statusError turns an error answer ({"error": "..."}) into a message.
func statusError(resp *http.Response, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, msg)
}

// runGet implements
//
//	mediaserver get --jid JID (--password P | --password-file F) [--server host:port]
//	  [--url BASE | --component JID] [--box WxH] CHANNEL ID OUT
//
// writing the item (or, with --box, its preview fitting WxH) to OUT ("-":
// standard output). ID may be "avatar".
func runGet(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	box := fs.String("box", "", "fetch the preview that fits `WxH` instead of the file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mediaserver get --jid JID --password P [--box WxH] [flags] CHANNEL ID OUT")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		fs.Usage()
		return errors.New("get: want CHANNEL ID OUT")
	}
	channel, err := channelOf(pos[0])
	if err != nil {
		return err
	}
	id, out := pos[1], pos[2]
	query := ""
	if *box != "" {
		b, err := transform.ParseBox(*box)
		if err != nil {
			return fmt.Errorf("--box: %w", err)
		}
		query = fmt.Sprintf("?maxwidth=%d&maxheight=%d", b.Width, b.Height)
	}

	ctx, stop := signalContext()
	defer stop()
	c, err := dialMediaClient(ctx, cf)
	if err != nil {
		return err
	}
	defer c.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/"+channel+"/"+url.PathEscape(id)+query, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.authorization)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return fmt.Errorf("get %s/%s: %w", channel, id, statusError(resp, body))
	}
	if out == "-" {
		_, err := io.Copy(stdout, resp.Body)
		return err
	}
	n, err := writeFileAtomic(out, resp.Body)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s, %s\n", out, humanBytes(n), resp.Header.Get("Content-Type"))
	return nil
}

// writeFileAtomic writes r to a temporary file beside path and renames it,
// so an interrupted download never leaves a truncated OUT.
func writeFileAtomic(path string, r io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows how much of a file has been sent: a bar redrawn in place
// on a terminal, a plain line every quarter otherwise (logs, CI).
type progress struct {
	w        io.Writer
	terminal bool
	name     string
	total    int64
	sent     int64
	began    time.Time
	drawn    time.Time
	quarter  int64 // last quarter reported, plain mode
	answered bool  // the server has answered
	now      func() time.Time
}

func newProgress(w io.Writer, terminal bool, name string) *progress {
	return &progress{w: w, terminal: terminal, name: name, now: time.Now}
}

func (p *progress) start(total int64) {
	p.total, p.sent, p.quarter, p.answered = total, 0, 0, false
	p.began = p.now()
	p.draw(true)
}

// reader counts what r yields.
func (p *progress) reader(r io.Reader) io.Reader { return progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(int64(n))
	return n, err
}

func (p *progress) add(n int64) {
	p.sent += n
	p.draw(false)
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	// Plain mode has already said 100% if everything was sent, and
	// should not claim it otherwise.
	p.answered = true
	if p.terminal {
		p.draw(true)
		fmt.Fprintln(p.w)
	}
}

func (p *progress) percent() int64 {
	if p.total <= 0 {
		return 100
	}
	return p.sent * 100 / p.total
}

func (p *progress) draw(force bool) {
	now := p.now()
	if p.terminal {
		// A redraw costs a write; ten a second look smooth.
		if !force && now.Sub(p.drawn) < 100*time.Millisecond && p.sent < p.total {
			return
		}
		p.drawn = now
		const width = 30
		filled := int(p.percent() * width / 100)
		rate := ""
		if el := now.Sub(p.began).Seconds(); el > 0.2 {
			rate = " " + humanBytes(int64(float64(p.sent)/el)) + "/s"
		}
		if p.sent >= p.total && !p.answered {
			// Sent; the server stores it and makes previews before 201.
			rate += ", the server is storing it"
		}
		fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %s of %s%s\033[K", p.name,
			strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.percent(),
			humanBytes(p.sent), humanBytes(p.total), rate)
		return
	}
	q := p.percent() / 25
	if force || q > p.quarter {
		p.quarter = q
		fmt.Fprintf(p.w, "%s: %d%% (%s of %s)\n", p.name, q*25, humanBytes(p.sent), humanBytes(p.total))
	}
}

// humanBytes is n in B, KB, MB or GB (powers of 1000, as file managers
// show them).
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
