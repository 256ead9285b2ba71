package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
)

// runDemo shows the server working with nothing but Debian and Go: a
// throwaway Prosody (installed if missing), the server on its embedded
// defaults, a user who confirms an upload over XEP-0070, and a preview.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "exit after the demonstration instead of serving until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := ensureProsody(stdout); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "demo: "+format+"\n", a...) }

	px, err := localxmpp.Start(ctx, localxmpp.Options{})
	if err != nil {
		return fmt.Errorf("start local Prosody: %w", err)
	}
	defer px.Stop()
	say("Prosody running: c2s %s, component port %s, channel server %s", px.C2SAddr(), px.ComponentAddr(), px.ChannelServer())

	const password = "demo-password"
	if err := px.Register(ctx, "demo", password); err != nil {
		return err
	}
	user := px.UserJID("demo")
	if err := px.CreateChannel(ctx, user, "whitelist", map[string]auth.Affiliation{user.String(): auth.AffOwner}); err != nil {
		return err
	}
	say("user %s registered, with a private (whitelist) channel", user)

	cfg := configs.Default()
	// The demo's point is to be seen: its web page is served at /demo/.
	cfg.Demo.Enabled = true
	cfg.XMPP.ComponentJID = px.ComponentJID().String()
	cfg.XMPP.Secret = px.ComponentSecret()
	cfg.XMPP.ServerAddr = px.ComponentAddr()
	cfg.XMPP.ChannelServer = px.ChannelServer().String()
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // the default port is taken
		if err != nil {
			return err
		}
	}
	base := "http://" + ln.Addr().String()
	if err := cfg.Set("http.public_url", base); err != nil {
		ln.Close()
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := buildApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.serve(serveCtx, ln) }()
	defer func() { stopServe(); <-served }()
	wait, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := a.component.WaitConnected(wait); err != nil {
		return fmt.Errorf("the media component did not connect to Prosody: %w", err)
	}
	abs, _ := filepath.Abs(cfg.Storage.Disk.Root)
	say("media server on %s (blobs in %s, metadata in %s), component %s connected", base, abs, cfg.Metadata.SQLite.Path, cfg.XMPP.ComponentJID)
	if err := demoXEP0363(ctx, px.C2SAddr(), user, password, say); err != nil { // demo_xep0363.go
		return err
	}

	confirmed := make(chan auth.ConfirmRequest, 4)
	client, err := mediaclient.Dial(ctx, mediaclient.Config{
		JID: user, Password: password, Server: px.C2SAddr(), BaseURL: base,
		OnConfirm: func(req auth.ConfirmRequest) {
			select {
			case confirmed <- req:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("log in %s: %w", user, err)
	}
	defer client.Close()
	say("%s logged in over XMPP; it will accept XEP-0070 confirmations of its own requests", client.JID())

	channel := user.String()
	photo := demoPhoto(1600, 1200)
	item, err := client.Upload(ctx, channel, mediaclient.Upload{
		Body: bytes.NewReader(photo), Size: int64(len(photo)), Filename: "demo.jpg", ContentType: "image/jpeg", Title: "Demo photo",
	})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	select {
	case req := <-confirmed:
		say("the server asked %s to confirm %s %s; accepted", req.JID, req.Method, req.URL)
	default:
	}
	say("uploaded a %dx%d photo: 201 %s", item.Width, item.Height, bytes.TrimSpace(item.JSON))

	resp, err := client.Get(ctx, channel, item.ID, 240, 320)
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	preview, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	pc, _, err := image.DecodeConfig(bytes.NewReader(preview))
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	say("240x320 preview: %dx%d %s, %d bytes (original %d bytes)", pc.Width, pc.Height, resp.Header.Get("Content-Type"), len(preview), len(photo))
	itemURL := client.ItemURL(channel, item.ID)
	resp, err = http.Get(itemURL)
	if err == nil {
		resp.Body.Close()
		say("the same file without credentials: %d %s (the channel is private)", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	say("try it:\n  curl -s '%s?%s' | head -c 300; echo\n  curl -so preview.jpg '%s?maxwidth=240&maxheight=320&%s'",
		client.ChannelURL(channel), client.AuthQuery(), itemURL, client.AuthQuery())
	// The page, opened on the channel with the user's credential (which
	// the logged-in client confirms): placeholders, then the previews.
	page := base + "/demo/?channel=" + url.QueryEscape(channel) + "&" + client.AuthQuery()
	resp, err = http.Get(page)
	if err != nil {
		return fmt.Errorf("demo page: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo page: %s", resp.Status)
	}
	say("web page (the channel's placeholders, previews and their bytes): %d %s\n  %s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	if *once {
		return nil
	}
	say("serving until Ctrl-C")
	select {
	case <-ctx.Done():
		return nil
	case err := <-served:
		return err
	}
}

// ensureProsody installs Prosody from Debian's packages when it is missing
// and we may (root); otherwise it says how.
func ensureProsody(stdout io.Writer) error {
	if _, err := exec.LookPath("prosody"); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("prosody is not installed: run `sudo apt-get install -y prosody` and try again")
	}
	fmt.Fprintln(stdout, "demo: installing prosody (apt-get install prosody)")
	for _, argv := range [][]string{{"apt-get", "update", "-qq"}, {"apt-get", "install", "-y", "-qq", "prosody"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v\n%s", argv, err, out)
		}
	}
	return nil
}

// demoPhoto draws a photo-like JPEG (gradients and discs, so it compresses
// like a real picture rather than a flat test card).
func demoPhoto(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 120 + 100*math.Sin(fx*6.0+fy*2)
			g := 110 + 90*math.Cos(fy*5.0)
			b := 150 + 80*math.Sin((fx+fy)*4)
			for _, c := range [][3]float64{{0.3, 0.4, 0.15}, {0.7, 0.6, 0.2}} {
				if d := math.Hypot(fx-c[0], (fy-c[1])*float64(h)/float64(w)); d < c[2] {
					r, g, b = 240-d*300, 200-d*200, 60+d*100
				}
			}
			img.Set(x, y, color.RGBA{clamp(r), clamp(g), clamp(b), 255})
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 88})
	return buf.Bytes()
}

func clamp(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v))) }
