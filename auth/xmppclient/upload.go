package xmppclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/upload"
)

// The XEP-0363 client side: find the upload service of the user's domain,
// request a slot, PUT the file. Conversations, Dino and Gajim do the same
// three steps; the upload command and the tests use these.

// UploadService is a XEP-0363 service found by discovery.
type UploadService struct {
	JID         jid.JID
	MaxFileSize int64 // 0: not announced
}

// ErrNoUploadService: no item of the domain announces XEP-0363.
var ErrNoUploadService = errors.New("no XEP-0363 upload service on this domain")

// FindUploadService discovers the upload service as XEP-0363 §3 says: the
// domain itself, then each item of the domain's disco#items.
func (c *Client) FindUploadService(ctx context.Context) (UploadService, error) {
	domain := c.JID().Domain()
	candidates := []jid.JID{domain}
	var items xmppwire.DiscoItems
	if err := c.query(ctx, domain, xmppwire.NSDiscoItems, &items, nil); err != nil {
		return UploadService{}, fmt.Errorf("disco#items of %s: %w", domain, err)
	}
	for _, it := range items.Items {
		if j, err := jid.Parse(it.JID); err == nil {
			candidates = append(candidates, j)
		}
	}
	for _, j := range candidates {
		var info xmppwire.DiscoInfo
		if err := c.query(ctx, j, xmppwire.NSDiscoInfo, &info, nil); err != nil {
			continue // an item that does not answer is not the service
		}
		if ok, max := info.Upload(); ok {
			return UploadService{JID: j, MaxFileSize: max}, nil
		}
	}
	return UploadService{}, ErrNoUploadService
}

// SlotError is an error reply to an IQ, with the XEP-0363 details.
type SlotError struct {
	Type      string // cancel, modify, auth, wait
	Condition string // e.g. not-acceptable, resource-constraint, forbidden
	Text      string
	// MaxFileSize is set with <file-too-large/>.
	MaxFileSize int64
	// RetryAt is set with <retry stamp='...'/>.
	RetryAt time.Time
}

func (e *SlotError) Error() string {
	s := "refused: " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	if e.MaxFileSize > 0 {
		s += fmt.Sprintf(", max %d bytes", e.MaxFileSize)
	}
	if !e.RetryAt.IsZero() {
		s += ", retry at " + e.RetryAt.Format(time.RFC3339)
	}
	return s
}

// UploadSlot is a granted slot.
type UploadSlot struct {
	PutURL    string
	GetURL    string
	PutHeader http.Header // Authorization, Cookie, Expires only (XEP-0363 §4)
}

// RequestSlot asks service for a slot for one file. A refusal is a
// *SlotError.
func (c *Client) RequestSlot(ctx context.Context, service jid.JID, name string, size int64, contentType string) (UploadSlot, error) {
	attr := []xml.Attr{
		{Name: xml.Name{Local: "filename"}, Value: name},
		{Name: xml.Name{Local: "size"}, Value: strconv.FormatInt(size, 10)},
	}
	if contentType != "" {
		attr = append(attr, xml.Attr{Name: xml.Name{Local: "content-type"}, Value: contentType})
	}
	var slot upload.Slot
	req := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSHTTPUpload, Local: "request"}, Attr: attr})
	if err := c.query(ctx, service, "", &slot, req); err != nil {
		return UploadSlot{}, err
	}
	if slot.PutURL == nil || slot.GetURL == nil {
		return UploadSlot{}, errors.New("slot without put or get URL")
	}
	return UploadSlot{PutURL: slot.PutURL.String(), GetURL: slot.GetURL.String(), PutHeader: slot.Header}, nil
}

// Upload PUTs size bytes of body to slot with hc (nil: http.DefaultClient)
// and returns the GET URL once the service answered 201 (or 200).
func (s UploadSlot) Upload(ctx context.Context, hc *http.Client, body io.Reader, size int64, contentType string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.PutURL, body)
	if err != nil {
		return "", err
	}
	for k, vs := range s.PutHeader {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.ContentLength = size
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("PUT: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("PUT: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return s.GetURL, nil
}

// errorXML is a stanza error with its children, whatever they are.
type errorXML struct {
	Type     string `xml:"type,attr"`
	Children []struct {
		XMLName xml.Name
		Stamp   string `xml:"stamp,attr"`
		Max     int64  `xml:"max-file-size"`
		Text    string `xml:",chardata"`
	} `xml:",any"`
}

func (e errorXML) slotError() *SlotError {
	out := &SlotError{Type: e.Type}
	for _, c := range e.Children {
		switch {
		case c.XMLName.Space == stanza.NSError && c.XMLName.Local == "text":
			out.Text = c.Text
		case c.XMLName.Space == stanza.NSError:
			out.Condition = c.XMLName.Local
		case c.XMLName == xml.Name{Space: xmppwire.NSHTTPUpload, Local: "file-too-large"}:
			out.MaxFileSize = c.Max
		case c.XMLName == xml.Name{Space: xmppwire.NSHTTPUpload, Local: "retry"}:
			out.RetryAt, _ = time.Parse(time.RFC3339, c.Stamp)
		}
	}
	return out
}

// query sends an IQ get with payload (nil: an empty <query xmlns=ns/>) to
// to and decodes the result's payload into v. An error reply is a
// *SlotError.
func (c *Client) query(ctx context.Context, to jid.JID, ns string, v any, payload xml.TokenReader) error {
	if payload == nil {
		payload = xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: "query"}})
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.sess.SendIQElement(ctx, payload, stanza.IQ{Type: stanza.GetIQ, To: to})
	if err != nil {
		return err
	}
	defer resp.Close()
	start, err := xmppwire.ReplyStart(resp)
	if err != nil {
		return fmt.Errorf("reply from %s: %w", to, err)
	}
	var reply struct {
		Type  string    `xml:"type,attr"`
		Inner []byte    `xml:",innerxml"`
		Error *errorXML `xml:"error"`
	}
	// Re-encoded to bytes: innerxml needs a byte-reading decoder.
	var raw bytes.Buffer
	enc := xml.NewEncoder(&raw)
	if _, err := xmlstream.Copy(enc, xmlstream.MultiReader(xmlstream.Token(start), resp)); err != nil {
		return fmt.Errorf("reply from %s: %w", to, err)
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	if err := xml.Unmarshal(raw.Bytes(), &reply); err != nil {
		return fmt.Errorf("reply from %s: %w", to, err)
	}
	if reply.Type == string(stanza.ErrorIQ) {
		if reply.Error == nil {
			return &SlotError{Condition: "undefined-condition"}
		}
		return reply.Error.slotError()
	}
	if err := xml.Unmarshal(reply.Inner, v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reply from %s: %w", to, err)
	}
	return nil
}
