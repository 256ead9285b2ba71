package main

// mediaserver upload --xep0363: share files as today's XMPP clients do
// (Conversations, Dino, Gajim...): find the domain's XEP-0363 upload
// service, ask it for a slot per file, PUT the file to the signed URL, and
// print the GET URL to send in a chat. No channel and no confirmation are
// involved: the XMPP login is the proof of who uploads.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
	"github.com/xmppmedia/mediaserver/transform"
)

// wantsXEP0363 reports whether upload's arguments ask for XEP-0363.
func wantsXEP0363(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--xep0363" || a == "-xep0363" || a == "--xep0363=true" || a == "-xep0363=true" {
			return true
		}
	}
	return false
}

// runUploadXEP0363 implements
//
//	mediaserver upload --xep0363 --jid JID (--password P | --password-file F) [--server host:port]
//	  [--component JID] FILE...
//
// --component names the upload service; by default it is discovered on
// the JID's domain (XEP-0363 §3).
func runUploadXEP0363(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("upload --xep0363", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	fs.Bool("xep0363", true, "upload through the XEP-0363 service of your domain instead of to a channel")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mediaserver upload --xep0363 --jid JID --password P [flags] FILE...")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return errors.New("upload: want at least one FILE")
	}
	if err := regularFiles(files); err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	xc, service, err := dialUploadService(ctx, cf)
	if err != nil {
		return err
	}
	defer xc.Close()
	hc := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}}
	var failed int
	for _, name := range files {
		getURL, typ, size, err := uploadSlotFile(ctx, xc, service, hc, name)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "mediaserver: upload %s: %v\n", name, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(stdout, "%s: uploaded (%s, %s)\n", name, mediaclient.HumanBytes(size), typ)
		fmt.Fprintf(stdout, "  url             %s\n", getURL)
		if strings.HasPrefix(typ, "image/") || strings.HasPrefix(typ, "video/") {
			for _, b := range transform.DefaultPreviewSizes() {
				fmt.Fprintf(stdout, "  preview %-7s %s?maxwidth=%d&maxheight=%d\n", b, getURL, b.Width, b.Height)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d uploads failed", failed, len(files))
	}
	return nil
}

// dialUploadService logs in and finds the upload service: --component, or
// discovery on the user's domain.
func dialUploadService(ctx context.Context, f clientFlags) (*xmppclient.Client, xmppclient.UploadService, error) {
	var none xmppclient.UploadService
	user, password, tlsCfg, err := f.login()
	if err != nil {
		return nil, none, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	addr := f.server
	if addr == "" {
		addr = mediaclient.ServerAddr(ctx, user.Domain().String())
	}
	xc, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: addr, JID: user.Bare(), Password: password, DialTimeout: f.timeout, TLS: tlsCfg}, nil)
	if err != nil {
		return nil, none, fmt.Errorf("log in to XMPP at %s: %w", addr, err)
	}
	if f.component != "" {
		j, err := jid.Parse(f.component)
		if err != nil {
			xc.Close()
			return nil, none, fmt.Errorf("--component %q: %w", f.component, err)
		}
		return xc, xmppclient.UploadService{JID: j}, nil
	}
	service, err := xc.FindUploadService(ctx)
	if err != nil {
		xc.Close()
		return nil, none, fmt.Errorf("find the upload service of %s: %w", user.Domain(), err)
	}
	return xc, service, nil
}

// uploadSlotFile asks for a slot for one file and PUTs it, streaming from
// disk with an exact Content-Length.
func uploadSlotFile(ctx context.Context, xc *xmppclient.Client, service xmppclient.UploadService, hc *http.Client, name string) (getURL, typ string, size int64, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", 0, err
	}
	size = st.Size()
	if service.MaxFileSize > 0 && size > service.MaxFileSize {
		return "", "", 0, fmt.Errorf("%s is larger than the service's limit of %s", mediaclient.HumanBytes(size), mediaclient.HumanBytes(service.MaxFileSize))
	}
	if typ, err = mediaclient.DetectContentType(f, name); err != nil {
		return "", "", 0, err
	}
	slot, err := xc.RequestSlot(ctx, service.JID, filepath.Base(name), size, typ)
	if err != nil {
		return "", "", 0, fmt.Errorf("slot request to %s: %w", service.JID, err)
	}
	getURL, err = slot.Upload(ctx, hc, f, size, typ)
	return getURL, typ, size, err
}
