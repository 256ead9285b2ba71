package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics"
)

// newMetrics makes the server's collectors, reading the component's
// connection state at each scrape.
func newMetrics(cfg configs.Config, component *xmppauth.Component) *metrics.Metrics {
	return metrics.New(metrics.Options{
		Version:       versionString(),
		XMPPConnected: component.Connected,
		ReplyTimeout:  cfg.XMPP.ReplyTimeout,
	})
}

// countedGuard puts counting decorators on both sides of each cache: the
// outer one counts lookups, the inner one those that reached XMPP.
func countedGuard(cfg configs.Config, m *metrics.Metrics, component *xmppauth.Component) *auth.Guard {
	return &auth.Guard{
		Channels:  m.ChannelCache(auth.NewChannelCache(m.Channels(component), cfg.Caches.PermissionTTL)),
		Confirmer: m.ConfirmCache(auth.NewConfirmCache(m.Confirmer(component), cfg.Caches.ConfirmTTL)),
	}
}

// metricsServer serves /metrics on its own listener until stopped.
type metricsServer struct {
	srv  *http.Server
	done chan error
}

func startMetricsServer(ln net.Listener, m *metrics.Metrics, log *slog.Logger) *metricsServer {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "mediaserver metrics: GET /metrics")
	})
	ms := &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan error, 1),
	}
	go func() { ms.done <- ms.srv.Serve(ln) }()
	log.Info("metrics listening", "listen", ln.Addr().String(), "path", "/metrics")
	return ms
}

// stop ends the metrics server; a scrape in flight gets a moment.
func (ms *metricsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := ms.srv.Shutdown(ctx)
	if serr := <-ms.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("metrics server: %w", err)
	}
	return nil
}

// runHealthcheck implements
//
//	mediaserver healthcheck [--config FILE] [--url URL] [--timeout D]
//
// for container HEALTHCHECKs and service monitors, which have no curl in a
// static image: it GETs /healthz on the configured http.listen address
// (or URL) and exits non-zero unless the answer is 200. With --ready it
// asks /readyz instead (stores reachable and XMPP connected).
func runHealthcheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default ./mediaserver.yaml if present, else built-in defaults and the environment)")
	target := fs.String("url", "", "URL to check (default http://<http.listen>/healthz)")
	ready := fs.Bool("ready", false, "check /readyz (ready to serve) instead of /healthz (alive)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	u := *target
	if u == "" {
		// Only http.listen matters here: a setting serve would refuse has
		// kept the server from running, which the check then reports.
		cfg, err := configs.Read(configPath(*path), os.Environ())
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		u = healthURL(cfg.HTTP.Listen, *ready)
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(u)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", u, strings.TrimSpace(string(body)))
	return nil
}

// healthURL is the check URL for a listen address; a wildcard host is
// checked on the loopback interface.
func healthURL(listen string, ready bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = "127.0.0.1", "8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	p := "/healthz"
	if ready {
		p = "/readyz"
	}
	return "http://" + net.JoinHostPort(host, port) + p
}
