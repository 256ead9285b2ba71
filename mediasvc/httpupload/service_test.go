package httpupload

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/storage"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openLedger(t *testing.T, path string) *sqlite.Store { return openLedgerF(t, path) }

func openLedgerF(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	return meta
}

func newService(t *testing.T, cfg Config, meta storage.UploadLedger, c *clock) *Service {
	t.Helper()
	s, err := New(context.Background(), cfg, Deps{Ledger: meta, ComponentJID: jid.MustParse("media.example.org"),
		BaseURL: "https://media.example.org/", Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putQuery(t *testing.T, put string) (id, name string, q url.Values) {
	t.Helper()
	u, err := url.Parse(put)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(u.Path, PathPrefix)
	id, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		t.Fatalf("PUT URL %s", put)
	}
	return id, name, u.Query()
}

// Two servers on one database generate the key once and accept each
// other's URLs; a URL is refused once expired and when any signed field
// changes.
func TestSignedURLs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "media.db")
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a := newService(t, DefaultConfig(), openLedger(t, path), c)
	b := newService(t, DefaultConfig(), openLedger(t, path), c)

	slot, err := a.RequestSlot(context.Background(), jid.MustParse("alice@example.org/phone"),
		xmppauth.SlotRequest{FileName: "a b.jpg", Size: "1234", ContentType: "image/JPEG"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://media.example.org" + PathPrefix; !strings.HasPrefix(slot.GetURL, want) || !strings.HasSuffix(slot.GetURL, "/a%20b.jpg") {
		t.Fatalf("GET URL %s", slot.GetURL)
	}
	id, name, q := putQuery(t, slot.PutURL)
	g, err := b.VerifyPut(id, name, q)
	if err != nil {
		t.Fatalf("B refuses A's URL: %v", err)
	}
	if g.Requester != "alice@example.org" || g.Size != 1234 || g.Type != "image/jpeg" || g.Name != "a b.jpg" {
		t.Fatalf("grant %+v", g)
	}
	for _, c := range []struct {
		what string
		edit func(id, name *string, q url.Values)
	}{
		{"id", func(id, _ *string, _ url.Values) { *id = strings.Repeat("0", 32) }},
		{"name", func(_, name *string, _ url.Values) { *name = "c.jpg" }},
		{"requester", func(_, _ *string, q url.Values) { q.Set(paramRequester, "mallory@example.org") }},
		{"size", func(_, _ *string, q url.Values) { q.Set(paramSize, "1235") }},
		{"type", func(_, _ *string, q url.Values) { q.Set(paramType, "text/html") }},
		{"expiry", func(_, _ *string, q url.Values) { q.Set(paramExpires, "99999999999") }},
		{"signature", func(_, _ *string, q url.Values) { q.Set(paramSig, "AAAA") }},
		{"no signature", func(_, _ *string, q url.Values) { q.Del(paramSig) }},
	} {
		id2, name2, q2 := id, name, url.Values{}
		for k, v := range q {
			q2[k] = append([]string(nil), v...)
		}
		c.edit(&id2, &name2, q2)
		if _, err := b.VerifyPut(id2, name2, q2); !errors.Is(err, ErrBadSignature) {
			t.Errorf("changed %s: %v, want ErrBadSignature", c.what, err)
		}
	}
	other := newService(t, Config{MaxFileSize: 1 << 20, SlotTTL: time.Minute, Secret: "another key of 16+ bytes"}, openLedger(t, path), c)
	if _, err := other.VerifyPut(id, name, q); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a server with another key: %v", err)
	}
	c.t = c.t.Add(DefaultConfig().SlotTTL)
	if _, err := a.VerifyPut(id, name, q); !errors.Is(err, ErrExpired) {
		t.Fatalf("after the slot TTL: %v, want ErrExpired", err)
	}
}

// Quotas count committed and in-flight uploads of the service's entity
// only, and name the time to retry.
func TestQuotas(t *testing.T) {
	ctx := context.Background()
	meta := openLedger(t, filepath.Join(t.TempDir(), "media.db"))
	c := &clock{t: time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)}
	cfg := DefaultConfig()
	cfg.Quota = Quota{UserDailyBytes: 1000, UserTotalBytes: 2000, TotalBytes: 3000}
	cfg.ExpireAfter = 48 * time.Hour
	s := newService(t, cfg, meta, c)
	add := func(entity, author string, size int64, at time.Time, commit bool) {
		t.Helper()
		m := storage.Media{Entity: entity, ID: newSlotID(), Author: author, Size: size, Uploaded: at, Updated: at, BlobKey: "k"}
		if err := meta.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
		if commit {
			if _, _, err := meta.Commit(ctx, m, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	ask := func(user string, size int64) error {
		_, err := s.RequestSlot(ctx, jid.MustParse(user+"/r"), xmppauth.SlotRequest{FileName: "f", Size: itoa(size)})
		return err
	}
	yesterday := c.t.Add(-20 * time.Hour)
	add(Entity, "alice@example.org", 900, yesterday, true)
	add("bob@example.org", "alice@example.org", 5000, c.t, true) // a channel upload: not counted
	add(Entity, "alice@example.org", 400, c.t, false)            // in flight: counted
	if err := ask("alice@example.org", 600); err != nil {
		t.Fatalf("within every quota: %v", err)
	}
	var qe *xmppauth.QuotaError
	// Today 400 + 601 > 1000.
	if err := ask("alice@example.org", 601); !errors.As(err, &qe) || !qe.RetryAt.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("daily quota: %v (retry %v), want retry at midnight UTC", err, qe)
	}
	add(Entity, "alice@example.org", 100, c.t, true)
	add(Entity, "alice@example.org", 500, yesterday, true)
	// Total 900 + 400 + 100 + 500 + 101 > 2000 (today's 500 + 101 fits).
	if err := ask("alice@example.org", 101); !errors.As(err, &qe) || !qe.RetryAt.Equal(c.t.Add(cfg.ExpireAfter)) {
		t.Fatalf("user total quota: %v, want retry when the oldest may have expired", err)
	}
	add(Entity, "carol@example.org", 1000, yesterday, true)
	// Everyone: 1900 + 1000 + 101 > 3000.
	if err := ask("dave@example.org", 101); !errors.As(err, &qe) || !strings.Contains(qe.Reason, "service") {
		t.Fatalf("total quota: %v", err)
	}
	if err := ask("dave@example.org", 100); err != nil {
		t.Fatalf("exactly at the total quota: %v", err)
	}
}

func TestRequestRefusals(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now()}
	s := newService(t, DefaultConfig(), openLedger(t, filepath.Join(t.TempDir(), "m.db")), c)
	for _, tc := range []struct {
		from string
		req  xmppauth.SlotRequest
		want error
	}{
		{"eve@evil.example/x", xmppauth.SlotRequest{FileName: "a", Size: "1"}, xmppauth.ErrSlotForbidden},
		{"example.org", xmppauth.SlotRequest{FileName: "a", Size: "1"}, xmppauth.ErrSlotForbidden},
		{"a@sub.example.org", xmppauth.SlotRequest{FileName: "a", Size: "1"}, xmppauth.ErrSlotForbidden},
		{"a@example.org", xmppauth.SlotRequest{FileName: "a", Size: "-1"}, xmppauth.ErrSlotNotAcceptable},
		{"a@example.org", xmppauth.SlotRequest{FileName: "a", Size: "1e3"}, xmppauth.ErrSlotNotAcceptable},
		{"a@example.org", xmppauth.SlotRequest{FileName: "..", Size: "1"}, xmppauth.ErrSlotNotAcceptable},
		{"a@example.org", xmppauth.SlotRequest{FileName: "a\x00b", Size: "1"}, xmppauth.ErrSlotNotAcceptable},
		{"a@example.org", xmppauth.SlotRequest{FileName: "\xff", Size: "1"}, xmppauth.ErrSlotNotAcceptable},
		{"a@example.org", xmppauth.SlotRequest{FileName: "a", Size: "1", ContentType: "text"}, xmppauth.ErrSlotNotAcceptable},
	} {
		if _, err := s.RequestSlot(ctx, jid.MustParse(tc.from), tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s %+v: %v, want %v", tc.from, tc.req, err, tc.want)
		}
	}
	var tl *xmppauth.FileTooLargeError
	if _, err := s.RequestSlot(ctx, jid.MustParse("a@example.org"), xmppauth.SlotRequest{FileName: "a", Size: "104857601"}); !errors.As(err, &tl) || tl.Max != 104857600 {
		t.Fatalf("over max_file_size: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.MaxFileSize, bad.SlotTTL, bad.Secret, bad.Domains = 0, 0, "short", []string{"a@b"}
	bad.Quota.TotalBytes = -1
	err := bad.Validate()
	for _, key := range []string{"upload.max_file_size", "upload.slot_ttl", "upload.secret", "upload.domains", "upload.quota.total_bytes"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate does not report %s: %v", key, err)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
