package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/mediasvc/metrics/metricstest"
)

func scrapeOps(t *testing.T, s *opsStack) metricstest.Scrape {
	t.Helper()
	sc, err := metricstest.Get(s.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func sampleValue(sc metricstest.Scrape, name string, labels map[string]string) float64 {
	v, _ := sc.Value(name, labels)
	return v
}

// A request moves its counter by exactly one, under its route pattern
// (never the raw path), on the separate metrics listener.
func TestMetricsCountRequests(t *testing.T) {
	s := startOpsStack(t)
	user, password := s.newUser(t, "counted", "whitelist")
	tests := []struct {
		name, path, route string
		status            int
	}{
		{"health", "/healthz", "/healthz", 200},
		{"private list without credentials", "/" + user.String(), "/{entity}", 401},
		{"private item without credentials", "/" + user.String() + "/AAAAAAAAAAAAAAAAAAAA", "/{entity}/{mediaID}", 401},
		{"no such route", "/a/b/c/d", "unmatched", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"route": tc.route, "method": "GET", "status": itoa(tc.status)}
			before := sampleValue(scrapeOps(t, s), "mediaserver_http_requests_total", labels)
			if status, _, body := fetch(t, s.base+tc.path); status != tc.status {
				t.Fatalf("GET %s: %s, want %d", tc.path, describe(status, body), tc.status)
			}
			// The count moves when the handler returns, which may be just
			// after the client has the answer.
			waitFor(t, 5*time.Second, "requests_total"+fmt.Sprint(labels)+" +1", func() (bool, string) {
				after := sampleValue(scrapeOps(t, s), "mediaserver_http_requests_total", labels)
				return after == before+1, fmt.Sprintf("from %v to %v", before, after)
			})
		})
	}
	sc := scrapeOps(t, s)
	for name := range sc {
		for _, m := range sc[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && (l.GetValue() == "/"+user.String() || l.GetValue() == "/a/b/c/d") {
					t.Errorf("%s has a raw path as route label: %s", name, l.GetValue())
				}
			}
		}
	}
	// An authorized read: one confirmation asked, accepted.
	q := s.login(t, user, password, "tid-metrics")
	for i := 0; i < 3; i++ {
		if status, _, body := fetch(t, s.base+"/"+user.String()+"?auth="+q); status != 200 {
			t.Fatalf("authorized list: %s", describe(status, body))
		}
	}
	waitFor(t, 5*time.Second, "three list requests counted", func() (bool, string) {
		got := sampleValue(scrapeOps(t, s), "mediaserver_http_requests_total", map[string]string{"route": "/{entity}", "status": "200"})
		return got == 3, fmt.Sprint(got)
	})
	sc = scrapeOps(t, s)
	if got := sampleValue(sc, "mediaserver_xmpp_confirmations_total", map[string]string{"outcome": "accepted"}); got != 1 {
		t.Errorf("accepted confirmations %v, want 1 (three requests, one transaction)", got)
	}
	if got := sampleValue(sc, "mediaserver_auth_cache_requests_total", map[string]string{"cache": "confirm", "result": "hit"}); got != 2 {
		t.Errorf("confirmation cache hits %v, want 2", got)
	}
	if got := sampleValue(sc, "mediaserver_xmpp_connected", nil); got != 1 {
		t.Errorf("xmpp_connected %v, want 1", got)
	}
}

// Readiness follows the XMPP server: it turns false when Prosody stops and
// true again after it returns (the component reconnects by itself), and
// the connection gauge with it. Liveness stays true throughout.
func TestReadinessFollowsProsody(t *testing.T) {
	s := startOpsStack(t)
	type readiness struct {
		status int
		checks map[string]string
	}
	ready := func() readiness {
		status, _, body := fetch(t, s.base+"/readyz")
		r := readiness{status: status}
		json.Unmarshal(body, &r.checks)
		return r
	}
	gauge := func() float64 { return sampleValue(scrapeOps(t, s), "mediaserver_xmpp_connected", nil) }
	expect := func(what string, within time.Duration, wantStatus int, wantXMPP string, wantGauge float64) {
		t.Helper()
		waitFor(t, within, what, func() (bool, string) {
			r := ready()
			g := gauge()
			state := itoa(r.status) + " " + r.checks["xmpp"] + " gauge " + itoa(int(g))
			return r.status == wantStatus && r.checks["xmpp"] == wantXMPP && r.checks["metadata"] == "ok" && g == wantGauge, state
		})
		if status, _, body := fetch(t, s.base+"/healthz"); status != 200 {
			t.Errorf("%s: healthz %s", what, describe(status, body))
		}
	}
	expect("ready at start", 5*time.Second, 200, "ok", 1)
	s.px.StopProcess()
	expect("not ready once Prosody is gone", 10*time.Second, 503, "unavailable", 0)
	start := time.Now()
	ctx := t.Context()
	if err := s.px.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Reconnect backoff is capped at 5 s.
	expect("ready again after Prosody returns", 20*time.Second, 200, "ok", 1)
	t.Logf("ready again %v after Prosody was restarted", time.Since(start).Round(10*time.Millisecond))
}

func itoa(n int) string { return strconv.Itoa(n) }

// The container HEALTHCHECK: healthcheck finds the server from the same
// configuration it runs with and fails when nothing answers.
func TestHealthcheckCommand(t *testing.T) {
	s := startOpsStack(t)
	listen := strings.TrimPrefix(s.base, "http://")
	cfgFile := filepath.Join(t.TempDir(), "mediaserver.yaml")
	if err := os.WriteFile(cfgFile, []byte("http:\n  listen: \""+listen+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		wantOK bool
	}{
		{"alive, from the config file", []string{"--config", cfgFile}, true},
		{"ready, from the config file", []string{"--config", cfgFile, "--ready"}, true},
		{"explicit URL", []string{"--url", s.base + "/healthz"}, true},
		{"nothing listening", []string{"--url", "http://" + closedAddr + "/healthz", "--timeout", "2s"}, false},
		{"not a health endpoint", []string{"--url", s.base + "/nope", "--timeout", "2s"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"healthcheck"}, tc.args...), &stdout, &stderr)
			if (err == nil) != tc.wantOK {
				t.Errorf("healthcheck %v: %v (stdout %q), want ok=%v", tc.args, err, stdout.String(), tc.wantOK)
			}
		})
	}
}

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ready  bool
		want   string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", false, "http://127.0.0.1:8080/healthz"},
		{":9000", true, "http://127.0.0.1:9000/readyz"},
		{"[::]:8080", false, "http://[::1]:8080/healthz"},
		{"media.internal:80", false, "http://media.internal:80/healthz"},
	} {
		if got := healthURL(tc.listen, tc.ready); got != tc.want {
			t.Errorf("healthURL(%q, %v) = %q, want %q", tc.listen, tc.ready, got, tc.want)
		}
	}
}
