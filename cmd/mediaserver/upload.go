package main

// mediaserver upload and mediaserver get: command-line clients of the
// media API (package mediaclient) that work like the Android share intent.
// This file holds their flags and the upload command.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
	"github.com/xmppmedia/mediaserver/transform"
)

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
	fs.DurationVar(&f.timeout, "login-timeout", mediaclient.DefaultLoginTimeout, "bound on XMPP login and discovery")
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

// dial logs in and finds the media server as the flags say.
func (f clientFlags) dial(ctx context.Context) (*mediaclient.Client, error) {
	user, password, tlsCfg, err := f.login()
	if err != nil {
		return nil, err
	}
	c, err := mediaclient.Dial(ctx, mediaclient.Config{
		JID: user, Password: password, Server: f.server, TLS: tlsCfg,
		BaseURL: f.baseURL, Component: f.component, LoginTimeout: f.timeout,
	})
	if errors.Is(err, mediaclient.ErrNotDiscovered) {
		return nil, fmt.Errorf("%w (give the server's URL with --url)", err)
	}
	return c, err
}

// login is what every client command needs from the flags to log in: the
// user's JID, password and TLS settings.
func (f clientFlags) login() (jid.JID, string, *tls.Config, error) {
	if f.jid == "" {
		return jid.JID{}, "", nil, errors.New("--jid is required")
	}
	user, err := jid.Parse(f.jid)
	if err != nil || user.Localpart() == "" {
		return jid.JID{}, "", nil, fmt.Errorf("--jid %q: want user@host", f.jid)
	}
	password, err := f.readPassword()
	if err != nil {
		return jid.JID{}, "", nil, err
	}
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return jid.JID{}, "", nil, err
	}
	return user, password, tlsCfg, nil
}

// regularFiles checks, before logging in, that each file to upload exists
// and is a regular file.
func regularFiles(names []string) error {
	for _, name := range names {
		if st, err := os.Stat(name); err != nil {
			return fmt.Errorf("upload: %w", err)
		} else if !st.Mode().IsRegular() {
			return fmt.Errorf("upload: %s is not a regular file", name)
		}
	}
	return nil
}

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
	if err := regularFiles(files); err != nil {
		return err
	}

	ctx, stop := signalContext()
	defer stop()
	c, err := cf.dial(ctx)
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
		item, err := uploadFile(ctx, c, channel, name, *title, *description, mediaclient.NewProgress(progress, isTerminal(stdout), filepath.Base(name)))
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "mediaserver: upload %s: %v\n", name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		itemURL := c.ItemURL(channel, item.ID)
		fmt.Fprintf(stdout, "%s: uploaded as %s (%s, %s)\n", name, item.ID, mediaclient.HumanBytes(item.FileSize), item.MimeType)
		fmt.Fprintf(stdout, "  url             %s\n", itemURL)
		if strings.HasPrefix(item.MimeType, "image/") || strings.HasPrefix(item.MimeType, "video/") {
			for _, b := range transform.DefaultPreviewSizes() {
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

// uploadFile streams one file from disk.
func uploadFile(ctx context.Context, c *mediaclient.Client, channel, name, title, description string, p *mediaclient.Progress) (mediaclient.Item, error) {
	f, err := os.Open(name)
	if err != nil {
		return mediaclient.Item{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return mediaclient.Item{}, err
	}
	contentType, err := mediaclient.DetectContentType(f, name)
	if err != nil {
		return mediaclient.Item{}, err
	}
	return c.Upload(ctx, channel, mediaclient.Upload{
		Body: f, Size: st.Size(), Filename: filepath.Base(name), ContentType: contentType,
		Title: title, Description: description, Progress: p,
	})
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
