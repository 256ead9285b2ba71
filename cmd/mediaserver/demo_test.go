package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestDemo runs the README's first command (with --once) in a fresh
// directory: it must upload a photo confirmed over XMPP and serve its
// 240x320 preview, with the embedded defaults (disk + SQLite in ./data).
func TestDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errs bytes.Buffer
	if err := run([]string{"demo", "--once"}, &out, &errs); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{
		`confirm POST http://127\.0\.0\.1:\d+/demo@localhost; accepted`, // credentials in the Authorization header
		`uploaded a 1600x1200 photo: 201 \{"id":"[A-Za-z0-9]{20}"`,
		`240x320 preview: 240x180 image/jpeg`,
		`without credentials: 401`,
		`XEP-0363: demo@localhost found media\.localhost as its domain's upload service`,
		`XEP-0363: its 240x320 preview without credentials: 240x180 image/jpeg`,
		`web page \(the channel's placeholders, previews and their bytes\): 200 text/html.*\n  http://127\.0\.0\.1:\d+/demo/\?channel=demo%40localhost&auth=[A-Za-z0-9_-]+\n`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	for _, p := range []string{"data/media.db", "data/media"} {
		if _, err := os.Stat(filepath.Join(".", p)); err != nil {
			t.Errorf("the default %s was not used: %v", p, err)
		}
	}
}
