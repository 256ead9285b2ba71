package main

import (
	"bytes"
	"flag"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics/metricstest"
	"github.com/xmppmedia/mediaserver/transform"
)

// printedItem is what `mediaserver upload` printed for one file.
type printedItem struct {
	url      string
	previews map[string]string // "240x320" → URL
}

var (
	uploadedLine = regexp.MustCompile(`^(\S+): uploaded as ([A-Za-z0-9]{20}) `)
	urlLine      = regexp.MustCompile(`^  url\s+(\S+)$`)
	previewLine  = regexp.MustCompile(`^  preview (\d+x\d+)\s+(\S+)$`)
)

// parseUploadOutput reads the items out of upload's standard output (the
// progress lines are interleaved and ignored).
func parseUploadOutput(t *testing.T, out string) map[string]printedItem {
	t.Helper()
	items := map[string]printedItem{}
	var current string
	for _, line := range strings.Split(out, "\n") {
		if m := uploadedLine.FindStringSubmatch(line); m != nil {
			current = filepath.Base(m[1])
			items[current] = printedItem{previews: map[string]string{}}
			continue
		}
		if current == "" {
			continue
		}
		it := items[current]
		if m := urlLine.FindStringSubmatch(line); m != nil {
			it.url = m[1]
		} else if m := previewLine.FindStringSubmatch(line); m != nil {
			it.previews[m[1]] = m[2]
		}
		items[current] = it
	}
	return items
}

// `mediaserver upload` against a real Prosody and a real server: it logs
// in, confirms its own request over XEP-0070, uploads, and the URLs it
// prints serve the file and its previews to someone with the channel's
// credentials (and not to anyone else: the channel is private).
// `mediaserver get` then fetches the same bytes.
//
// The XMPP server requires STARTTLS, as real ones do; the CLI trusts its
// self-signed certificate with --tls-ca.
func TestUploadCommandEndToEnd(t *testing.T) {
	s := startOpsStackWith(t, localxmpp.Options{RequireTLS: true})
	user, password := s.newUser(t, "sharer", "whitelist")
	dir := t.TempDir()
	photo := testPhoto(t, 1200, 900)
	files := map[string][]byte{
		"photo.jpg": photo,
		"notes.txt": []byte("shopping list: milk, bread\n"),
		"noext":     testPhoto(t, 300, 200), // type found by its bytes
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	passwordFile := filepath.Join(dir, "password")
	os.WriteFile(passwordFile, []byte(password+"\n"), 0o600)
	login := []string{"--jid", user.String() + "/laptop", "--server", s.px.C2SAddr(), "--tls-ca", filepath.Join(s.px.Dir(), "cert.pem")}

	tests := []struct {
		name  string
		args  []string
		files []string
	}{
		{"URL given", append(append([]string{}, login...), "--password", password, "--url", s.base), []string{"photo.jpg", "notes.txt"}},
		{"URL discovered by disco#info, password from a file", append(append([]string{}, login...), "--password-file", passwordFile, "--component", s.px.ComponentJID().String()), []string{"photo.jpg", "noext"}},
	}
	q := s.login(t, user, password, "tid-reader")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"upload"}, tc.args...)
			args = append(args, user.String())
			for _, f := range tc.files {
				args = append(args, filepath.Join(dir, f))
			}
			start := time.Now()
			if err := run(args, &stdout, &stderr); err != nil {
				t.Fatalf("mediaserver upload: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			t.Logf("uploaded %d files in %v", len(tc.files), time.Since(start).Round(time.Millisecond))
			items := parseUploadOutput(t, stdout.String())
			if len(items) != len(tc.files) {
				t.Fatalf("printed %d items, want %d:\n%s", len(items), len(tc.files), stdout.String())
			}
			if !strings.Contains(stdout.String(), "100%") {
				t.Errorf("no progress line reaching 100%% in:\n%s", stdout.String())
			}
			for _, name := range tc.files {
				it := items[name]
				want := files[name]
				if !strings.HasPrefix(it.url, s.base+"/"+user.String()+"/") {
					t.Fatalf("%s: item URL %q is not under %s", name, it.url, s.base)
				}
				status, _, body := fetch(t, it.url+"?auth="+q)
				if status != 200 || !bytes.Equal(body, want) {
					t.Errorf("%s: GET item URL: status %d, %d bytes; want 200 with the file's %d bytes", name, status, len(body), len(want))
				}
				if status, _, _ := fetch(t, it.url); status != 401 {
					t.Errorf("%s: item URL without credentials answered %d, want 401 (private channel)", name, status)
				}
				isImage := name != "notes.txt"
				if got := len(it.previews); isImage && got != 2 || !isImage && got != 0 {
					t.Errorf("%s: %d preview URLs printed: %v", name, got, it.previews)
				}
				for box, purl := range it.previews {
					status, ctype, body := fetch(t, purl+"&auth="+q)
					if status != 200 {
						t.Errorf("%s preview %s: status %d", name, box, status)
						continue
					}
					cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
					if err != nil {
						t.Errorf("%s preview %s (%s): not an image: %v", name, box, ctype, err)
						continue
					}
					b, err := transform.ParseBox(box)
					if err != nil {
						t.Fatal(err)
					}
					orig, _, _ := image.DecodeConfig(bytes.NewReader(want))
					// Fits the box in one orientation or the other; as
					// large as it can be (touches the box) unless the
					// original already fits (never enlarged).
					fits := func(w, h int) bool {
						return cfg.Width <= w && cfg.Height <= h && (cfg.Width == w || cfg.Height == h)
					}
					unscaled := cfg.Width == orig.Width && cfg.Height == orig.Height &&
						(orig.Width <= b.Width && orig.Height <= b.Height || orig.Width <= b.Height && orig.Height <= b.Width)
					if !fits(b.Width, b.Height) && !fits(b.Height, b.Width) && !unscaled {
						t.Errorf("%s preview %s is %dx%d (original %dx%d)", name, box, cfg.Width, cfg.Height, orig.Width, orig.Height)
					}
				}
			}
		})
	}

	// mediaserver get: the original and a preview, as the URLs serve them.
	var stdout, stderr bytes.Buffer
	if err := run(append([]string{"upload", "--quiet", "--password", password, "--url", s.base}, append(login, user.String(), filepath.Join(dir, "photo.jpg"))...), &stdout, &stderr); err != nil {
		t.Fatalf("upload: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stdout.String(), "%") {
		t.Errorf("--quiet printed progress:\n%s", stdout.String())
	}
	it := parseUploadOutput(t, stdout.String())["photo.jpg"]
	id := it.url[strings.LastIndex(it.url, "/")+1:]
	_, _, wantPreview := fetch(t, it.previews["240x320"]+"&auth="+q)
	for _, tc := range []struct {
		name string
		box  []string
		want []byte
	}{
		{"original", nil, photo},
		{"preview", []string{"--box", "240x320"}, wantPreview},
	} {
		t.Run("get "+tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "got-"+tc.name)
			// Flags after the positional arguments, as the usage shows.
			args := append([]string{"get", "--password", password, "--component", s.px.ComponentJID().String()}, login...)
			args = append(args, user.String(), id)
			args = append(args, tc.box...)
			args = append(args, out)
			var stdout, stderr bytes.Buffer
			if err := run(args, &stdout, &stderr); err != nil {
				t.Fatalf("mediaserver get: %v\n%s", err, stderr.String())
			}
			got, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("get wrote %d bytes (%v), want the %d bytes the URL serves", len(got), err, len(tc.want))
			}
		})
	}

	sc, err := metricstest.Get(s.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := sc.Value("mediaserver_upload_size_bytes", nil); n != 5 {
		t.Errorf("upload_size_bytes count %v, want 5 uploads", n)
	}
	if n, _ := sc.Value("mediaserver_preview_duration_seconds", map[string]string{"when": "upload", "result": "ok"}); n != 4 {
		t.Errorf("preview renderings at upload %v, want 4 (one per image upload)", n)
	}
}

// Failures a user makes are reported clearly, before any network use
// where possible.
func TestUploadCommandErrors(t *testing.T) {
	s := startOpsStack(t)
	user, password := s.newUser(t, "clumsy", "whitelist")
	other, _ := s.newUser(t, "stranger", "whitelist")
	file := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(file, []byte("hello"), 0o600)
	login := []string{"--jid", user.String(), "--server", s.px.C2SAddr(), "--plaintext"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no jid", []string{"--password", "x", user.String(), file}, "--jid is required"},
		{"no password", []string{"--jid", user.String(), user.String(), file}, "--password"},
		{"no file", append(append([]string{}, login...), "--password", password, user.String()), "at least one FILE"},
		{"missing file", append(append([]string{}, login...), "--password", password, user.String(), file+".gone"), "no such file"},
		{"bad channel", append(append([]string{}, login...), "--password", password, "not a jid@", file), "bare JID"},
		{"wrong password", append(append([]string{}, login...), "--password", "wrong", "--url", s.base, user.String(), file), "log in"},
		{"no endpoint announced", append(append([]string{}, login...), "--password", password, "--component", "channels.localhost", user.String(), file), "no API endpoint"},
		{"someone else's channel", append(append([]string{}, login...), "--password", password, "--url", s.base, other.String(), file), "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"upload"}, tc.args...), &stdout, &stderr)
			msg := ""
			if err != nil {
				msg = err.Error() + "\n" + stderr.String()
			}
			if err == nil || !strings.Contains(msg, tc.want) {
				t.Fatalf("upload %v: error %q, want one mentioning %q", tc.args, msg, tc.want)
			}
		})
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantPos []string
		wantBox string
	}{
		{[]string{"a@b", "ID", "out"}, []string{"a@b", "ID", "out"}, ""},
		{[]string{"--box", "1x2", "a@b", "ID", "out"}, []string{"a@b", "ID", "out"}, "1x2"},
		{[]string{"a@b", "ID", "--box", "1x2", "out"}, []string{"a@b", "ID", "out"}, "1x2"},
		{[]string{"a@b", "ID", "out", "--box=1x2"}, []string{"a@b", "ID", "out"}, "1x2"},
		{[]string{"a@b", "--", "--box", "x"}, []string{"a@b", "--box", "x"}, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		box := fs.String("box", "", "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil || !reflect.DeepEqual(pos, tc.wantPos) || *box != tc.wantBox {
			t.Errorf("parseInterleaved(%q) = %q, box %q, %v; want %q, box %q", tc.args, pos, *box, err, tc.wantPos, tc.wantBox)
		}
	}
}
