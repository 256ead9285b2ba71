package mediaclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path/filepath"
	"strings"
)

// Upload is one file to upload, as the Android share intent sends it.
type Upload struct {
	// Body is streamed as the form's file part, never held whole.
	Body io.Reader
	// Size is Body's exact length: it makes the request's Content-Length,
	// so the server can refuse an oversized file before it is sent.
	Size int64
	// Filename and ContentType describe the file (see DetectContentType).
	Filename, ContentType string
	// Title and Description, when set, are sent as form fields.
	Title, Description string
	// Progress, when set, is shown how much of Body has been sent.
	Progress *Progress
}

// Item is the part of the media JSON a client reads after an upload.
type Item struct {
	ID       string `json:"id"`
	MimeType string `json:"mimeType"`
	FileSize int64  `json:"fileSize"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	// JSON is the server's answer as sent.
	JSON []byte `json:"-"`
}

// Upload posts u to the channel (a bare JID) with the client's
// credentials and returns the stored item.
func (c *Client) Upload(ctx context.Context, channel string, u Upload) (Item, error) {
	h := http.Header{}
	h.Set("Authorization", c.authorization())
	return Post(ctx, c.http, c.ChannelURL(channel), h, u)
}

// Post uploads u to url, a channel's URL (API.md, "Upload"), as
// multipart/form-data with the given extra headers (nil: none; the
// credentials may instead be in url's auth parameter). It wants 201 and
// the media JSON back.
func Post(ctx context.Context, hc *http.Client, url string, header http.Header, u Upload) (Item, error) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, kv := range [][2]string{{"content-type", u.ContentType}, {"filename", u.Filename}, {"title", u.Title}, {"description", u.Description}} {
		if kv[1] != "" {
			mw.WriteField(kv[0], kv[1])
		}
	}
	part := textproto.MIMEHeader{}
	part.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "data", "filename": u.Filename}))
	part.Set("Content-Type", u.ContentType)
	if _, err := mw.CreatePart(part); err != nil {
		return Item{}, err
	}
	prefix := append([]byte(nil), head.Bytes()...)
	head.Reset()
	mw.Close() // writes the closing boundary into head
	suffix := head.Bytes()

	body := u.Body
	if u.Progress != nil {
		u.Progress.Start(u.Size)
		body = u.Progress.Reader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url,
		io.MultiReader(bytes.NewReader(prefix), body, bytes.NewReader(suffix)))
	if err != nil {
		return Item{}, err
	}
	req.ContentLength = int64(len(prefix)) + u.Size + int64(len(suffix))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if u.Progress != nil {
		u.Progress.Finish()
	}
	if err != nil {
		return Item{}, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return Item{}, statusError(resp, answer)
	}
	var item Item
	if err := json.Unmarshal(answer, &item); err != nil || item.ID == "" {
		return Item{}, fmt.Errorf("server answered 201 without a media id: %.200s", answer)
	}
	item.JSON = answer
	return item, nil
}

// DetectContentType names a file's type by the extension of name, else by
// its first bytes, and rewinds f.
func DetectContentType(f io.ReadSeeker, name string) (string, error) {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		return t, nil
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return http.DetectContentType(head[:n]), nil
}

// statusError turns an error answer ({"error": "..."}) into a message.
func statusError(resp *http.Response, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, msg)
}

// Get fetches an item of a channel (id may be "avatar") or, with a
// maxWidth and maxHeight, its preview fitting that box. The caller reads
// and closes the response's body; an answer other than 200 is an error.
func (c *Client) Get(ctx context.Context, channel, id string, maxWidth, maxHeight int) (*http.Response, error) {
	u := c.ItemURL(channel, id)
	if maxWidth > 0 || maxHeight > 0 {
		u += fmt.Sprintf("?maxwidth=%d&maxheight=%d", maxWidth, maxHeight)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", c.authorization())
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", channel, id, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		return nil, fmt.Errorf("get %s/%s: %w", channel, id, statusError(resp, body))
	}
	return resp, nil
}
