package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
)

// `mediaserver upload --xep0363` against `serve` as cmd wires it (upload
// enabled by default): it discovers the service on the user's domain,
// uploads, and prints a GET URL anyone can read, with preview URLs that
// serve 240x320 and 320x480 images.
func TestUploadCommandXEP0363(t *testing.T) {
	s := startOpsStack(t)
	user, password := s.newUser(t, "sharer363", "whitelist")
	dir := t.TempDir()
	files := map[string][]byte{
		"photo.jpg": testPhoto(t, 1200, 900),
		"notes.txt": []byte("shopping list: milk, bread\n"),
	}
	var args []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	var stdout, stderr bytes.Buffer
	args = append([]string{"upload", "--xep0363", "--jid", user.String(), "--password", password,
		"--server", s.px.C2SAddr(), "--plaintext"}, args...)
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("mediaserver upload --xep0363: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	uploadedRE := regexp.MustCompile(`(?m)^(\S+): uploaded \(`)
	urlRE := regexp.MustCompile(`(?m)^  url\s+(\S+)$`)
	previewRE := regexp.MustCompile(`(?m)^  preview (\d+x\d+)\s+(\S+)$`)
	out := stdout.String()
	names, urls := uploadedRE.FindAllStringSubmatch(out, -1), urlRE.FindAllStringSubmatch(out, -1)
	if len(names) != len(files) || len(urls) != len(files) {
		t.Fatalf("printed %d files and %d URLs, want %d:\n%s", len(names), len(urls), len(files), out)
	}
	for i, m := range names {
		want := files[filepath.Base(m[1])]
		u := urls[i][1]
		if !strings.HasPrefix(u, s.base+"/upload/") {
			t.Errorf("GET URL %s is not on the server's public URL %s", u, s.base)
		}
		// No credentials: the URL is the capability.
		if status, _, body := fetch(t, u); status != 200 || !bytes.Equal(body, want) {
			t.Errorf("%s: GET %s: %d, %d bytes; want the file's %d", m[1], u, status, len(body), len(want))
		}
	}
	previews := previewRE.FindAllStringSubmatch(out, -1)
	if len(previews) != 2 {
		t.Fatalf("printed %d preview URLs, want 2 (the photo's):\n%s", len(previews), out)
	}
	for _, p := range previews {
		status, _, body := fetch(t, p[2])
		cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
		if status != 200 || err != nil || fmt.Sprintf("%dx%d", cfg.Width, cfg.Height) != map[string]string{"240x320": "240x180", "320x480": "320x240"}[p[1]] {
			t.Errorf("preview %s: %d, %dx%d %v", p[1], status, cfg.Width, cfg.Height, err)
		}
	}
}

// phonePhoto is a JPEG of about 3 MB: 1536x2048 of colour under fine
// noise, which compresses about as badly as a phone camera's picture.
func phonePhoto(t testing.TB) []byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(3, 3))
	const w, h = 1536, 2048
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x*255/w) ^ uint8(rng.IntN(256)), uint8(y*255/h) ^ uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestXEP0363VersusChannelAPI measures, side by side in one run, the time
// from asking to upload a 3 MB photo to its being stored (with previews),
// through XEP-0363 and through the channel API, each with the CLI's own
// client code against `serve` and a real Prosody, and counts the round
// trips the client takes part in (by construction: the channel API's 201
// needs the client's answer to one XEP-0070 question; a slot needs one
// IQ). docs/xmpp.md quotes the figures.
func TestXEP0363VersusChannelAPI(t *testing.T) {
	s := startOpsStack(t)
	user, password := s.newUser(t, "bench363", "whitelist")
	photo := phonePhoto(t)
	if len(photo) < 2500000 || len(photo) > 3500000 {
		t.Fatalf("the test photo is %d bytes, want about 3 MB", len(photo))
	}
	path := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(path, photo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cf := clientFlags{jid: user.String(), password: password, server: s.px.C2SAddr(), baseURL: s.base,
		timeout: 15 * time.Second, plaintext: true}
	channelClient, err := cf.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer channelClient.Close()
	xc, service, err := dialUploadService(ctx, cf)
	if err != nil {
		t.Fatal(err)
	}
	defer xc.Close()
	hc := &http.Client{}

	viaChannel := func() string {
		item, err := channelClient.Upload(ctx, user.String(), mediaclient.Upload{
			Body: bytes.NewReader(photo), Size: int64(len(photo)), Filename: "photo.jpg", ContentType: "image/jpeg",
		})
		if err != nil {
			t.Fatalf("channel API upload: %v", err)
		}
		return s.base + "/" + user.String() + "/" + item.ID
	}
	viaSlot := func() string {
		u, _, _, err := uploadSlotFile(ctx, xc, service, hc, path)
		if err != nil {
			t.Fatalf("XEP-0363 upload: %v", err)
		}
		return u
	}
	// Warm up both (permission cache, connections), then alternate.
	viaChannel()
	viaSlot()
	const rounds = 9
	var channelTimes, slotTimes []time.Duration
	for i := 0; i < rounds; i++ {
		start := time.Now()
		viaChannel()
		channelTimes = append(channelTimes, time.Since(start))
		start = time.Now()
		u := viaSlot()
		slotTimes = append(slotTimes, time.Since(start))
		if status, _, body := fetch(t, u); status != 200 || !bytes.Equal(body, photo) {
			t.Fatalf("the XEP-0363 upload reads back as %d, %d bytes", status, len(body))
		}
	}
	median := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	mc, ms := median(channelTimes), median(slotTimes)
	fmt.Printf("3 MB photo (%d bytes), request to stored file with previews, median of %d, one run:\n", len(photo), rounds)
	fmt.Printf("  channel API (POST, XEP-0070 confirmation, permission check): %v  round trips: 1 HTTP + 1 XMPP question answered by the client\n", mc.Round(time.Millisecond))
	fmt.Printf("  XEP-0363 (slot IQ, signed PUT):                               %v  round trips: 1 XMPP IQ + 1 HTTP\n", ms.Round(time.Millisecond))
	fmt.Printf("  XEP-0363 / channel API: %.2f\n", float64(ms)/float64(mc))
}
