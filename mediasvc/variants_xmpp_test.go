package mediasvc_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// TestXMPPVariantsOfPrivateItemOverHTTP: with a real Prosody deciding, a
// WebP and a byte-budgeted preview of a private channel's photo, made and
// cached for a confirmed owner, are refused to a user outside the channel,
// to an owner who denies the confirmation and to anonymous requests, even
// when they revalidate with the variant's ETag.
func TestXMPPVariantsOfPrivateItemOverHTTP(t *testing.T) {
	e := newXMPPEnv(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner := e.user("variant-owner", xmppclient.Accept)
	denier := e.user("variant-denier", xmppclient.Deny)
	outsider := e.user("variant-outsider", xmppclient.Accept)
	channel := "variants@localhost"
	if err := e.srv.CreateChannel(ctx, jid.MustParse(channel), "whitelist", map[string]auth.Affiliation{
		owner.bare().String(): auth.AffOwner, denier.bare().String(): auth.AffOwner,
	}); err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile(filepath.Join("..", "transform", "testdata", "progressive800x600.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	item := e.uploadFile(channel, owner, photo, "image/jpeg")
	for _, v := range []struct {
		query, accept, wantType string
	}{
		{"?maxwidth=320&maxheight=480", "image/webp,*/*", "image/webp"},
		{"?maxwidth=320&maxheight=480&maxbytes=6000", "", "image/jpeg"},
	} {
		path := "/" + channel + "/" + item + v.query
		h := http.Header{"Accept": {v.accept}}
		status, hdr, b := e.requestWith(http.MethodGet, path, owner, e.newTID(), nil, "", h)
		if status != http.StatusOK || hdr.Get("Content-Type") != v.wantType {
			t.Fatalf("owner %s: %d %s (%d bytes)", v.query, status, hdr.Get("Content-Type"), len(b))
		}
		etag := hdr.Get("ETag")
		revalidate := http.Header{"Accept": {v.accept}, "If-None-Match": {etag}}
		for _, tc := range []struct {
			name   string
			user   *xmppUser
			header http.Header
			want   int
		}{
			{"outsider", outsider, h, http.StatusForbidden},
			{"outsider revalidating", outsider, revalidate, http.StatusForbidden},
			{"owner who denies", denier, revalidate, http.StatusForbidden},
			{"anonymous revalidating", nil, revalidate, http.StatusUnauthorized},
			{"owner revalidating", owner, revalidate, http.StatusNotModified},
		} {
			status, _, b := e.requestWith(http.MethodGet, path, tc.user, e.newTID(), nil, "", tc.header)
			if status != tc.want || len(b) > 200 {
				t.Errorf("%s %s: %d (%d bytes), want %d", tc.name, v.query, status, len(b), tc.want)
			}
		}
	}
}
