package mediaclient

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The progress display: a bar redrawn in place on a terminal, a line per
// quarter otherwise.
func TestProgress(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		check    func(t *testing.T, out string)
	}{
		{"terminal", true, func(t *testing.T, out string) {
			if !strings.Contains(out, "\r") || !strings.Contains(out, "100%") || strings.Count(out, "\n") != 1 {
				t.Errorf("terminal output %q: want redraws with \\r ending in one newline at 100%%", out)
			}
			if !strings.Contains(out, "[==============================]") {
				t.Errorf("no full bar in %q", out)
			}
			last := out[strings.LastIndex(out, "\r"):]
			if !strings.Contains(out, "the server is storing it") || strings.Contains(last, "storing") {
				t.Errorf("want a 'storing' note while waiting for the answer, gone from the final line %q", last)
			}
		}},
		{"plain", false, func(t *testing.T, out string) {
			want := []string{"f.bin: 0% (0 B of 4.0 KB)", "f.bin: 25% (1.0 KB of 4.0 KB)", "f.bin: 50% (2.0 KB of 4.0 KB)", "f.bin: 75% (3.0 KB of 4.0 KB)", "f.bin: 100% (4.0 KB of 4.0 KB)"}
			if got := strings.Split(strings.TrimSpace(out), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("plain output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			clock := time.Unix(0, 0)
			p := NewProgress(&out, tc.terminal, "f.bin")
			p.now = func() time.Time { clock = clock.Add(50 * time.Millisecond); return clock }
			p.Start(4000)
			r := p.Reader(bytes.NewReader(make([]byte, 4000)))
			buf := make([]byte, 100)
			for {
				if _, err := r.Read(buf); err != nil {
					break
				}
			}
			p.Finish()
			tc.check(t, out.String())
		})
	}
}
