package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xmppmedia/mediaserver/mediasvc/httpupload"
	"github.com/xmppmedia/mediaserver/storage"
)

// uploadService builds the XEP-0363 service (nil when upload.enabled is
// off) and registers it with the component, which then advertises it.
func (a *app) uploadService(ctx context.Context) (*httpupload.Service, error) {
	if !a.cfg.Upload.Enabled {
		return nil, nil
	}
	ledger, ok := a.meta.(storage.UploadLedger)
	if !ok {
		return nil, errors.New("upload: the metadata store keeps no upload ledger")
	}
	// Slot URLs must be absolute; without a public URL they name the
	// listening address, which suits a local or test set-up only.
	base := a.cfg.Media.PublicURL
	if base == "" {
		base = "http://" + a.cfg.HTTP.Listen
		a.log.Warn("upload: http.public_url is empty; slot URLs name the listening address", "base", base)
	}
	s, err := httpupload.New(ctx, a.cfg.Upload, httpupload.Deps{
		Ledger: ledger, ComponentJID: a.component.JID(), BaseURL: base,
	})
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	a.component.SetSlotService(s)
	return s, nil
}

// startUploadExpiry removes expired uploads in the background until ctx
// ends, checking ten times per retention period (between 1 s and 10 min).
func (a *app) startUploadExpiry(ctx context.Context) {
	if !a.cfg.Upload.Enabled || a.cfg.Upload.ExpireAfter <= 0 {
		return
	}
	every := min(max(a.cfg.Upload.ExpireAfter/10, time.Second), 10*time.Minute)
	go a.svc.RunUploadExpiry(ctx, every)
}
