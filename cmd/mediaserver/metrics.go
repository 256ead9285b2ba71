package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
		Channels:  m.ChannelCache(auth.NewChannelCache(m.Channels(component), cfg.XMPP.PermissionCacheTTL)),
		Confirmer: m.ConfirmCache(auth.NewConfirmCache(m.Confirmer(component), cfg.XMPP.ConfirmCacheTTL)),
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
