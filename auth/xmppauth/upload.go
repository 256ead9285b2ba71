package xmppauth

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// SlotRequest is a XEP-0363 slot request as the client sent it; nothing
// in it has been checked.
type SlotRequest struct {
	FileName    string
	Size        string // as sent; the service parses it
	ContentType string
}

// Slot is where a client PUTs a file and where it is then read.
type Slot struct {
	PutURL string
	GetURL string
}

// SlotService answers XEP-0363 slot requests (package
// mediasvc/httpupload implements it). RequestSlot's errors are mapped to
// the XEP-0363 error conditions by their kind: ErrSlotNotAcceptable,
// *FileTooLargeError, *QuotaError, ErrSlotForbidden; any other error is
// internal-server-error and its text stays in the log.
type SlotService interface {
	RequestSlot(ctx context.Context, requester jid.JID, req SlotRequest) (Slot, error)
	// MaxFileSize is announced in disco#info.
	MaxFileSize() int64
}

// Kinds of slot-request refusal.
var (
	// ErrSlotNotAcceptable: a bad file name, type or size (not-acceptable).
	ErrSlotNotAcceptable = errors.New("slot request not acceptable")
	// ErrSlotForbidden: the requester may not upload here (forbidden).
	ErrSlotForbidden = errors.New("not allowed to upload")
)

// FileTooLargeError refuses a file over the service's limit
// (not-acceptable with <file-too-large><max-file-size/>).
type FileTooLargeError struct{ Max int64 }

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("file too large (max %d bytes)", e.Max)
}

// QuotaError refuses a request over a quota (resource-constraint); a
// non-zero RetryAt is announced as <retry stamp='...'/>.
type QuotaError struct {
	RetryAt time.Time
	Reason  string // shown to the user
}

func (e *QuotaError) Error() string { return "quota exceeded: " + e.Reason }

// SetSlotService makes the component a XEP-0363 upload service: it
// advertises the feature and answers slot requests with s. Call it
// before Run.
func (c *Component) SetSlotService(s SlotService) { c.slots = s }

// addUploadInfo adds the XEP-0363 identity, feature and form to q.
func (c *Component) addUploadInfo(q *xmppwire.DiscoInfo) {
	if c.slots == nil {
		return
	}
	q.Identities = append(q.Identities, xmppwire.DiscoIdentity{Category: "store", Type: "file", Name: "HTTP File Upload"})
	q.Features = append(q.Features, xmppwire.DiscoFeature{Var: xmppwire.NSHTTPUpload})
	q.Forms = append(q.Forms, xmppwire.UploadForm(c.slots.MaxFileSize()))
}

// answerSlot handles a XEP-0363 <request/> (payload) in an IQ get. The
// service's answer needs the metadata store (quotas), so it is worked out
// and sent from a goroutine: a slow store must not hold up the stream
// that carries every XEP-0070 confirmation. The session's send methods
// are safe to use there, outside the handler.
func (c *Component) answerSlot(t xmlstream.TokenReadEncoder, iq stanza.IQ, payload xml.StartElement) {
	sess, sessCtx, ok := c.current()
	if c.slots == nil || !ok {
		c.writeIQError(t, iq, stanza.ServiceUnavailable)
		return
	}
	req := SlotRequest{
		FileName:    attrValue(payload, "filename"),
		Size:        attrValue(payload, "size"),
		ContentType: attrValue(payload, "content-type"),
	}
	go func() {
		ctx, cancel := context.WithTimeout(sessCtx, c.cfg.ReplyTimeout)
		defer cancel()
		reply := c.slotReply(ctx, iq, req)
		if err := sess.Send(ctx, reply); err != nil && sessCtx.Err() == nil {
			c.log.Warn("send upload slot answer", "to", iq.From.String(), "err", err)
		}
	}()
}

// slotReply is the IQ answering req: the slot, or the refusal.
func (c *Component) slotReply(ctx context.Context, iq stanza.IQ, req SlotRequest) xml.TokenReader {
	slot, err := c.slots.RequestSlot(ctx, iq.From, req)
	if err != nil {
		return c.slotError(iq, err)
	}
	body := xmlstream.Wrap(xmlstream.MultiReader(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "put"}, Attr: []xml.Attr{{Name: xml.Name{Local: "url"}, Value: slot.PutURL}}}),
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "get"}, Attr: []xml.Attr{{Name: xml.Name{Local: "url"}, Value: slot.GetURL}}}),
	), xml.StartElement{Name: xml.Name{Space: xmppwire.NSHTTPUpload, Local: "slot"}})
	return stanza.IQ{ID: iq.ID, To: c.replyTo(iq), From: c.jid, Type: stanza.ResultIQ}.Wrap(body)
}

// slotError is the error IQ for a SlotService error, with its XEP-0363
// condition.
func (c *Component) slotError(iq stanza.IQ, err error) xml.TokenReader {
	var tooLarge *FileTooLargeError
	var quota *QuotaError
	se := stanza.Error{Type: stanza.Modify, Condition: stanza.NotAcceptable}
	var extra xml.TokenReader
	switch {
	case errors.As(err, &tooLarge):
		se.Text = map[string]string{"en": "File too large"}
		extra = xmlstream.Wrap(
			xmlstream.Wrap(xmlstream.Token(xml.CharData(strconv.FormatInt(tooLarge.Max, 10))),
				xml.StartElement{Name: xml.Name{Local: "max-file-size"}}),
			xml.StartElement{Name: xml.Name{Space: xmppwire.NSHTTPUpload, Local: "file-too-large"}})
	case errors.As(err, &quota):
		se = stanza.Error{Type: stanza.Wait, Condition: stanza.ResourceConstraint,
			Text: map[string]string{"en": "Quota reached: " + quota.Reason}}
		if !quota.RetryAt.IsZero() {
			extra = xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSHTTPUpload, Local: "retry"},
				Attr: []xml.Attr{{Name: xml.Name{Local: "stamp"}, Value: quota.RetryAt.UTC().Format(time.RFC3339)}}})
		}
	case errors.Is(err, ErrSlotForbidden):
		se = stanza.Error{Type: stanza.Auth, Condition: stanza.Forbidden,
			Text: map[string]string{"en": "Uploads are not allowed for your domain"}}
	case errors.Is(err, ErrSlotNotAcceptable):
		se.Text = map[string]string{"en": err.Error()}
	default:
		c.log.Error("upload slot request failed", "from", iq.From.String(), "err", err)
		se = stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError}
	}
	errEl := se.TokenReader()
	if extra != nil {
		errEl = insertBeforeEnd(errEl, extra)
	}
	return stanza.IQ{ID: iq.ID, To: c.replyTo(iq), From: c.jid, Type: stanza.ErrorIQ}.Wrap(errEl)
}

// insertBeforeEnd puts extra inside the outermost element of r, before its
// end: the application-specific child of a stanza error. Both are a few
// tokens, so they are read whole.
func insertBeforeEnd(r, extra xml.TokenReader) xml.TokenReader {
	var toks []xml.TokenReader
	read := func(r xml.TokenReader) {
		for {
			tok, err := r.Token()
			if tok != nil {
				toks = append(toks, xmlstream.Token(xml.CopyToken(tok)))
			}
			if err != nil {
				return
			}
		}
	}
	read(r)
	if len(toks) == 0 {
		return extra
	}
	end := toks[len(toks)-1]
	toks = toks[:len(toks)-1]
	read(extra)
	return xmlstream.MultiReader(append(toks, end)...)
}
