package httpupload

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
)

// FuzzVerifyPut: whatever a client puts in the path and query of a PUT,
// VerifyPut never panics, and it accepts only the exact URL it signed.
func FuzzVerifyPut(f *testing.F) {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	meta := openLedgerF(f, filepath.Join(f.TempDir(), "m.db"))
	s, err := New(context.Background(), DefaultConfig(), Deps{Ledger: meta, ComponentJID: jid.MustParse("media.example.org"),
		BaseURL: "https://media.example.org", Now: c.now})
	if err != nil {
		f.Fatal(err)
	}
	slot, err := s.RequestSlot(context.Background(), jid.MustParse("alice@example.org/r"),
		xmppauth.SlotRequest{FileName: "a.jpg", Size: "10", ContentType: "image/jpeg"})
	if err != nil {
		f.Fatal(err)
	}
	u, _ := url.Parse(slot.PutURL)
	id, name, _ := strings.Cut(strings.TrimPrefix(u.Path, PathPrefix), "/")
	f.Add(id, name, u.RawQuery)
	f.Add(id, name, strings.Replace(u.RawQuery, "size=10", "size=11", 1))
	f.Add("x", "", "sig=&expires=-1&size=9223372036854775807")
	f.Fuzz(func(t *testing.T, fid, fname, rawQuery string) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		g, err := s.VerifyPut(fid, fname, q)
		if err != nil {
			return
		}
		if fid != id || fname != name || g.Size != 10 || g.Type != "image/jpeg" || g.Requester != "alice@example.org" {
			t.Fatalf("accepted a URL it did not sign: %q %q %q -> %+v", fid, fname, rawQuery, g)
		}
	})
}
