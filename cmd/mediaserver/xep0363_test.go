package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage/sqlite"
)

// asUploadService is a runComponent setup that makes the component the
// XEP-0363 upload service with the default upload configuration, as
// `mediaserver serve` does.
func asUploadService(t *testing.T) func(*xmppauth.Component) {
	return func(c *xmppauth.Component) {
		meta, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "media.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { meta.Close() })
		s, err := httpupload.New(context.Background(), configs.Default().Upload, httpupload.Deps{
			Ledger: meta, ComponentJID: c.JID(), BaseURL: "https://" + c.JID().String(),
		})
		if err != nil {
			t.Fatal(err)
		}
		c.SetSlotService(s)
	}
}

// checkUploadDiscovery: a user of the example's XMPP server finds the
// component as its upload service by disco (no configuration on the
// client) and is granted a slot.
func checkUploadDiscovery(t *testing.T, ctx context.Context, user *xmppclient.Client, media string, logs func() string) {
	t.Helper()
	svc, err := user.FindUploadService(ctx)
	if err != nil {
		t.Fatalf("discover the upload service as %s: %v\n%s", user.JID(), err, logs())
	}
	if svc.JID.String() != media || svc.MaxFileSize != configs.Default().Upload.MaxFileSize {
		t.Fatalf("found upload service %s (max %d), want %s", svc.JID, svc.MaxFileSize, media)
	}
	slot, err := user.RequestSlot(ctx, svc.JID, "photo.jpg", 3<<20, "image/jpeg")
	if err != nil {
		t.Fatalf("slot request through the example's server: %v", err)
	}
	if !strings.HasPrefix(slot.GetURL, "https://"+media+httpupload.PathPrefix) {
		t.Fatalf("slot GET URL %s", slot.GetURL)
	}
}
