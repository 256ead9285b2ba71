// Package metrics exports what the media server does as Prometheus
// metrics: HTTP requests by route pattern and status with latency
// histograms, bytes moved, committed uploads, preview rendering time,
// XEP-0070 confirmation outcomes, permission and confirmation cache hits,
// and whether the XMPP component is connected.
//
// A Metrics implements mediasvc.Metrics (pass it as Deps.Metrics) and
// wraps the auth pieces with counting decorators (Confirmer, ConfirmCache,
// Channels, ChannelCache). Handler serves the text exposition format; the
// server binary serves it on its own listen address (metrics.listen), away
// from the public API.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
)

// Namespace prefixes every metric name.
const Namespace = "mediaserver"

// Options configure New.
type Options struct {
	// Version goes into mediaserver_build_info.
	Version string
	// XMPPConnected, when set, is read at each scrape for
	// mediaserver_xmpp_connected (1 connected, 0 not).
	XMPPConnected func() bool
	// ReplyTimeout is the XEP-0070 reply timeout: a denial that took at
	// least this long is counted as outcome "timeout" (the user did not
	// answer) rather than "denied". Zero counts every denial as "denied".
	ReplyTimeout time.Duration
	// NoProcessCollectors leaves out the Go runtime and process metrics
	// (tests that compare whole scrapes).
	NoProcessCollectors bool
}

// Metrics holds the collectors of one server. It is safe for concurrent
// use.
type Metrics struct {
	reg          *prometheus.Registry
	replyTimeout time.Duration

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	received      *prometheus.CounterVec
	sent          *prometheus.CounterVec
	uploadSize    prometheus.Histogram
	previewTime   *prometheus.HistogramVec
	confirms      *prometheus.CounterVec
	confirmTime   prometheus.Histogram
	channelLookup *prometheus.CounterVec
	cache         *prometheus.CounterVec
}

// New registers the collectors on a registry of their own (so two
// servers in one process, as in tests, do not collide).
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), replyTimeout: opts.ReplyTimeout}
	// Phones on slow networks take seconds; uploads of 100 MB minutes.
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time from the request's headers to the handler's return, by route pattern and method.",
		Buckets: latency,
	}, []string{"route", "method"})
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "received_bytes_total",
		Help: "Request body bytes read, by route pattern.",
	}, []string{"route"})
	m.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "sent_bytes_total",
		Help: "Response body bytes written, by route pattern.",
	}, []string{"route"})
	m.uploadSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "upload_size_bytes",
		Help:    "Stored size of each committed upload (count: uploads; sum: bytes stored).",
		Buckets: prometheus.ExponentialBuckets(4096, 4, 10), // 4 KiB .. 1 GiB
	})
	m.previewTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "preview_duration_seconds",
		Help:    "Time to render previews, at upload (every configured size) or on the first request of a size; result ok or error.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"when", "result"})
	m.confirms = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "xmpp", Name: "confirmations_total",
		Help: "XEP-0070 confirmations asked of users, by outcome: accepted, denied, timeout, unavailable, too_many (the requester's bound of waiting questions was full), abandoned (the HTTP client left), error.",
	}, []string{"outcome"})
	m.confirmTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "xmpp", Name: "confirmation_duration_seconds",
		Help:    "Time from asking a user to confirm to the answer (or the timeout).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	m.channelLookup = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "xmpp", Name: "channel_lookups_total",
		Help: "Access model and affiliation lookups on the channel server, by result: ok, unavailable, abandoned, error.",
	}, []string{"result"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "auth", Name: "cache_requests_total",
		Help: "Lookups in the confirmation and permission caches, by cache (confirm, channel) and result: hit (answered without an XMPP round trip of its own, including sharing one in flight) or miss.",
	}, []string{"cache", "result"})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Always 1; the version label says which build runs.",
	}, []string{"version"})
	buildInfo.WithLabelValues(opts.Version).Set(1)

	m.reg.MustRegister(m.requests, m.duration, m.received, m.sent, m.uploadSize, m.previewTime,
		m.confirms, m.confirmTime, m.channelLookup, m.cache, buildInfo)
	if opts.XMPPConnected != nil {
		connected := opts.XMPPConnected
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "xmpp", Name: "connected",
			Help: "1 while the XMPP component session is up, else 0 (requests needing XMPP get 503).",
		}, func() float64 {
			if connected() {
				return 1
			}
			return 0
		}))
	}
	if !opts.NoProcessCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	// Label combinations that always exist, so dashboards and alerts see
	// zeros rather than no series before the first event.
	for _, o := range []string{"accepted", "denied", "timeout", "unavailable"} {
		m.confirms.WithLabelValues(o)
	}
	for _, c := range []string{"confirm", "channel"} {
		for _, r := range []string{"hit", "miss"} {
			m.cache.WithLabelValues(c, r)
		}
	}
	return m
}

// Registry is where the collectors are registered, for adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format at any path.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest implements mediasvc.Metrics.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration, bytesIn, bytesOut int64) {
	if status == 0 {
		status = http.StatusOK // what net/http sends when a handler writes nothing
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
	if bytesIn > 0 {
		m.received.WithLabelValues(route).Add(float64(bytesIn))
	}
	if bytesOut > 0 {
		m.sent.WithLabelValues(route).Add(float64(bytesOut))
	}
}

// ObserveUpload implements mediasvc.Metrics.
func (m *Metrics) ObserveUpload(bytes int64) { m.uploadSize.Observe(float64(bytes)) }

// ObservePreview implements mediasvc.Metrics.
func (m *Metrics) ObservePreview(when string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.previewTime.WithLabelValues(when, result).Observe(d.Seconds())
}

// backendCalled is put in the context by a cache decorator; the backend
// decorator below the cache sets it. A cache answers the first caller of
// a shared lookup with that caller's context (its values survive
// context.WithoutCancel), so callers who waited on someone else's lookup
// stay unmarked: hits.
type backendCalled struct{ called bool }

type backendKey struct{}

func markBackend(ctx context.Context) {
	if b, ok := ctx.Value(backendKey{}).(*backendCalled); ok {
		b.called = true
	}
}

func hitOrMiss(b *backendCalled) string {
	if b.called {
		return "miss"
	}
	return "hit"
}

// Confirmer counts the outcomes of real confirmations: wrap the XMPP
// component with it, below the confirmation cache.
func (m *Metrics) Confirmer(next auth.Confirmer) auth.Confirmer {
	return confirmCounter{m: m, next: next}
}

type confirmCounter struct {
	m    *Metrics
	next auth.Confirmer
}

func (c confirmCounter) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	markBackend(ctx)
	start := time.Now()
	err := c.next.Confirm(ctx, req)
	d := time.Since(start)
	outcome := "accepted"
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrDenied) && c.m.replyTimeout > 0 && d >= c.m.replyTimeout:
		outcome = "timeout"
	case errors.Is(err, auth.ErrDenied):
		outcome = "denied"
	case errors.Is(err, auth.ErrUnavailable):
		outcome = "unavailable"
	case errors.Is(err, auth.ErrTooMany):
		outcome = "too_many"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		outcome = "abandoned"
	default:
		outcome = "error"
	}
	c.m.confirms.WithLabelValues(outcome).Inc()
	if outcome != "unavailable" && outcome != "abandoned" && outcome != "too_many" {
		c.m.confirmTime.Observe(d.Seconds())
	}
	return err
}

// ConfirmCache counts hits of a confirmation cache: wrap the cache with
// it, where the cache wraps a Confirmer made by m.Confirmer.
func (m *Metrics) ConfirmCache(cache auth.Confirmer) auth.Confirmer {
	return confirmCacheCounter{m: m, next: cache}
}

type confirmCacheCounter struct {
	m    *Metrics
	next auth.Confirmer
}

func (c confirmCacheCounter) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	b := &backendCalled{}
	err := c.next.Confirm(context.WithValue(ctx, backendKey{}, b), req)
	c.m.cache.WithLabelValues("confirm", hitOrMiss(b)).Inc()
	return err
}

// Channels counts lookups on the channel server: wrap the XMPP component
// with it, below the permission cache.
func (m *Metrics) Channels(next auth.Channels) auth.Channels {
	return channelCounter{m: m, next: next}
}

type channelCounter struct {
	m    *Metrics
	next auth.Channels
}

func (c channelCounter) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	markBackend(ctx)
	info, err := c.next.Channel(ctx, entity)
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrUnavailable):
		result = "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		result = "abandoned"
	default:
		result = "error"
	}
	c.m.channelLookup.WithLabelValues(result).Inc()
	return info, err
}

// ChannelCache counts hits of a permission cache: wrap the cache with it,
// where the cache wraps a Channels made by m.Channels.
func (m *Metrics) ChannelCache(cache auth.Channels) auth.Channels {
	return channelCacheCounter{m: m, next: cache}
}

type channelCacheCounter struct {
	m    *Metrics
	next auth.Channels
}

func (c channelCacheCounter) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	b := &backendCalled{}
	info, err := c.next.Channel(context.WithValue(ctx, backendKey{}, b), entity)
	c.m.cache.WithLabelValues("channel", hitOrMiss(b)).Inc()
	return info, err
}
