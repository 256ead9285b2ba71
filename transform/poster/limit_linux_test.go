package poster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The tools run with an empty environment, under CPU-time and
// address-space limits, and are killed at the wall-clock timeout.
func TestToolsRunFencedIn(t *testing.T) {
	m, err := New(Config{Timeout: 3 * time.Second, MaxMemory: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := m.run(ctx, "/bin/sh", "-c", "sleep 0.3; cat /proc/self/limits; echo; /usr/bin/env")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"Max cpu time", "Max address space"} {
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(line, want) {
				continue
			}
			fields := strings.Fields(strings.TrimPrefix(line, want))
			switch want {
			case "Max cpu time":
				if len(fields) < 2 || fields[0] != "3" || fields[1] != "4" {
					t.Errorf("%s: %v, want 3 4 seconds", want, fields)
				}
			case "Max address space":
				if len(fields) < 2 || fields[0] != "536870912" || fields[1] != "536870912" {
					t.Errorf("%s: %v, want 536870912 bytes", want, fields)
				}
			}
		}
	}
	for _, v := range []string{"PATH=", "HOME=", "http_proxy=", "LD_"} {
		if strings.Contains(text, "\n"+v) {
			t.Errorf("the tool saw %s in its environment:\n%s", v, text)
		}
	}
	started := time.Now()
	short, _ := New(Config{Timeout: 200 * time.Millisecond})
	if _, err := short.run(ctx, "/bin/sleep", "5"); err == nil {
		t.Error("a tool running past the timeout was not stopped")
	}
	if d := time.Since(started); d > 2*time.Second {
		t.Errorf("stopped after %s, want about 200ms", d)
	}
}
