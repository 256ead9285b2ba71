package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"net/http"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// demoXEP0363 shares a photo as today's XMPP clients do: logged in as
// user, it discovers the upload service on the user's domain, takes a
// slot, PUTs the photo, and reads back its 240x320 preview with no
// credentials (the URL is the capability).
func demoXEP0363(ctx context.Context, c2s string, user jid.JID, password string, say func(string, ...any)) error {
	client, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: c2s, JID: user, Password: password}, nil)
	if err != nil {
		return fmt.Errorf("log in %s: %w", user, err)
	}
	defer client.Close()
	photo := demoPhoto(1600, 1200)
	svc, err := client.FindUploadService(ctx)
	if err != nil {
		return fmt.Errorf("XEP-0363 discovery: %w", err)
	}
	say("XEP-0363: %s found %s as its domain's upload service (max %d bytes)", client.JID().Bare(), svc.JID, svc.MaxFileSize)
	slot, err := client.RequestSlot(ctx, svc.JID, "shared.jpg", int64(len(photo)), "image/jpeg")
	if err != nil {
		return fmt.Errorf("XEP-0363 slot: %w", err)
	}
	getURL, err := slot.Upload(ctx, nil, bytes.NewReader(photo), int64(len(photo)), "image/jpeg")
	if err != nil {
		return fmt.Errorf("XEP-0363 PUT: %w", err)
	}
	say("XEP-0363: PUT to the signed slot URL stored the photo: %s", getURL)
	resp, err := http.Get(getURL + "?maxwidth=240&maxheight=320")
	if err != nil {
		return err
	}
	preview, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pc, _, err := image.DecodeConfig(bytes.NewReader(preview))
	if resp.StatusCode != http.StatusOK || err != nil {
		return fmt.Errorf("XEP-0363 preview answered %d (%v)", resp.StatusCode, err)
	}
	say("XEP-0363: its 240x320 preview without credentials: %dx%d %s, %d bytes\n  curl -so shared-preview.jpg '%s?maxwidth=240&maxheight=320'",
		pc.Width, pc.Height, resp.Header.Get("Content-Type"), len(preview), getURL)
	return nil
}
