package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc"
	"github.com/xmppmedia/mediaserver/mediasvc/metrics"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/disk"
	"github.com/xmppmedia/mediaserver/storage/postgres"
	"github.com/xmppmedia/mediaserver/storage/s3store"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/poster"
)

func runServe(args []string, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, path, err := loadApp(ctx, args, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	cfg, log := a.cfg, a.log
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.Metrics.Listen != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listen: %w", err)
		}
	}
	if path == "" {
		path = "built-in defaults"
	}
	log.Info("mediaserver starting", "version", versionString(), "config", path, "listen", ln.Addr().String(),
		"storage", cfg.Storage.Backend, "metadata", cfg.Metadata.Driver, "component", cfg.XMPP.ComponentJID)
	return a.serve(ctx, ln)
}

// loadApp is serve up to listening: the configuration of its arguments
// (see loadConfig) and the pieces wired from it. It returns the file's
// path, "" for none.
func loadApp(ctx context.Context, args []string, stderr io.Writer) (*app, string, error) {
	cfg, path, err := loadConfig("serve", args, stderr)
	if err != nil {
		return nil, path, err
	}
	a, err := buildApp(ctx, cfg, newLogger(cfg.Log, stderr))
	return a, path, err
}

func newLogger(cfg configs.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level)) // validated by configs
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is a wired server: stores, the XMPP component, the HTTP service.
type app struct {
	cfg       configs.Config
	log       *slog.Logger
	meta      storage.Metadata
	component *xmppauth.Component
	svc       *mediasvc.Server
	metrics   *metrics.Metrics
	// metricsLn, when set before serve, serves /metrics (metrics.listen).
	metricsLn net.Listener
}

func buildApp(ctx context.Context, cfg configs.Config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log}
	var blobs storage.Blobs
	switch cfg.Storage.Backend {
	case "s3":
		s, err := s3store.New(ctx, cfg.Storage.S3)
		if err != nil {
			return nil, fmt.Errorf("s3 storage: %w", err)
		}
		blobs = s
	default:
		s, err := disk.New(cfg.Storage.Disk)
		if err != nil {
			return nil, fmt.Errorf("disk storage: %w", err)
		}
		blobs = s
	}

	var err error
	switch cfg.Metadata.Driver {
	case "postgres":
		a.meta, err = postgres.Open(ctx, cfg.Metadata.Postgres)
	default:
		a.meta, err = sqlite.Open(ctx, cfg.Metadata.SQLite)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}

	images, err := transform.New(cfg.Images)
	if err != nil {
		a.close()
		return nil, err
	}

	a.component, err = xmppauth.New(cfg.XMPP, log.With("part", "xmpp"))
	if err != nil {
		a.close()
		return nil, fmt.Errorf("xmpp: %w", err)
	}
	a.metrics = newMetrics(cfg, a.component)
	guard := countedGuard(cfg, a.metrics, a.component)

	// Videos get posters and previews where ffmpeg is installed; without
	// it they are stored and served as plain files.
	posters, err := poster.New(cfg.Posters)
	if err != nil {
		log.Warn("videos will have no previews", "err", err)
		posters = nil
	}

	slots, err := a.uploadService(ctx)
	if err != nil {
		a.close()
		return nil, err
	}

	a.svc, err = mediasvc.New(cfg.Media, mediasvc.Deps{
		Blobs: blobs, Metadata: a.meta, Auth: guard, Images: images, Posters: posters, Log: log, Metrics: a.metrics,
		Demo: demoPage(cfg), Slots: slots,
		Ready: func(context.Context) error {
			if !a.component.Connected() {
				return errors.New("XMPP component not connected")
			}
			return nil
		},
	})
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// serve recovers from any crash, connects XMPP in the background, and
// serves HTTP on ln until ctx ends; then it drains in-flight requests and
// closes the XMPP session.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	st, err := a.svc.Recover(ctx)
	if err != nil {
		return err
	}
	if st.TempFiles > 0 || st.Uploads > 0 {
		a.log.Warn("recovered from an earlier crash", "temp_files_removed", st.TempFiles, "uploads_removed", st.Uploads)
	}

	xmppCtx, stopXMPP := context.WithCancel(context.WithoutCancel(ctx))
	xmppDone := make(chan error, 1)
	go func() { xmppDone <- a.component.Run(xmppCtx) }()

	srv := a.svc.HTTPServer(a.cfg.Timeouts)
	if a.cfg.Media.AbandonAfter > 0 {
		go a.svc.RunJanitor(xmppCtx, a.cfg.Media.AbandonAfter)
	}
	a.startUploadExpiry(xmppCtx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if a.metricsLn != nil {
		ms := startMetricsServer(a.metricsLn, a.metrics, a.log)
		defer func() {
			if err := ms.stop(); err != nil {
				a.log.Warn("stop metrics server", "err", err)
			}
		}()
	}

	select {
	case err = <-served:
	case <-ctx.Done():
		a.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopXMPP()
	<-xmppDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (a *app) close() {
	if a.meta != nil {
		a.meta.Close()
	}
}
