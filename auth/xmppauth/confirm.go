package xmppauth

import (
	"context"
	"encoding/xml"
	"fmt"
	"sync"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var _ auth.Confirmer = (*Component)(nil)

// Bounds on questions waiting for an answer. Anyone can make the server
// ask an affiliated user about made-up transaction ids, and each question
// waits up to the reply timeout: the per-user bound keeps one user from
// being flooded, the total bounds memory.
const (
	MaxPendingPerUser = 32
	MaxPending        = 10000
)

// inbound is the part of an incoming message (or IQ) that can answer a
// confirmation request.
type inbound struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	Confirm *struct {
		ID string `xml:"id,attr"`
	} `xml:"http://jabber.org/protocol/http-auth confirm"`
	Error *struct{} `xml:"error"`
}

// pendingConfirm is one question waiting for its answer.
type pendingConfirm struct {
	to     jid.JID // exactly as asked
	tid    string
	id     string     // our message's stanza id
	answer chan error // buffered 1: nil (accepted) or ErrDenied
}

// from reports whether a reply sent by j may answer p: the same full JID
// when a full JID was asked, else the same bare JID.
func (p *pendingConfirm) from(j jid.JID) bool {
	if p.to.Resourcepart() != "" {
		return j.Equal(p.to)
	}
	return j.Bare().Equal(p.to.Bare())
}

// confirmTable indexes pending questions by stanza id and transaction id.
type confirmTable struct {
	mu     sync.Mutex
	byID   map[string]*pendingConfirm
	byTID  map[string]map[*pendingConfirm]struct{}
	byUser map[string]int // bare JID → pending questions
}

func (t *confirmTable) init() {
	t.byID = make(map[string]*pendingConfirm)
	t.byTID = make(map[string]map[*pendingConfirm]struct{})
	t.byUser = make(map[string]int)
}

// add registers p, or refuses when too many questions are waiting.
func (t *confirmTable) add(p *pendingConfirm) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	user := p.to.Bare().String()
	if t.byUser[user] >= MaxPendingPerUser {
		return fmt.Errorf("%w: %d confirmations already waiting for %s", auth.ErrUnavailable, MaxPendingPerUser, user)
	}
	if len(t.byID) >= MaxPending {
		return fmt.Errorf("%w: %d confirmations already waiting", auth.ErrUnavailable, MaxPending)
	}
	t.byUser[user]++
	t.byID[p.id] = p
	set := t.byTID[p.tid]
	if set == nil {
		set = make(map[*pendingConfirm]struct{})
		t.byTID[p.tid] = set
	}
	set[p] = struct{}{}
	return nil
}

func (t *confirmTable) remove(p *pendingConfirm) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byID, p.id)
	user := p.to.Bare().String()
	if t.byUser[user]--; t.byUser[user] <= 0 {
		delete(t.byUser, user)
	}
	if set := t.byTID[p.tid]; set != nil {
		delete(set, p)
		if len(set) == 0 {
			delete(t.byTID, p.tid)
		}
	}
}

// resolve applies a reply to the questions it answers. Only a reply that
// carries the transaction id (in its confirm element) can accept; an error
// without one (a server bounce keeps only the stanza id) denies by stanza
// id. Either way only replies from the asked JID count: anyone else's
// changes nothing.
func (t *confirmTable) resolve(r inbound, errorType bool) {
	from, err := jid.Parse(r.From)
	if err != nil {
		return
	}
	denied := errorType || r.Type == string(stanza.ErrorMessage) || r.Error != nil
	t.mu.Lock()
	defer t.mu.Unlock()
	var answered []*pendingConfirm
	switch {
	case r.Confirm != nil:
		for p := range t.byTID[r.Confirm.ID] {
			answered = append(answered, p)
		}
	case denied:
		if p := t.byID[r.ID]; p != nil {
			answered = append(answered, p)
		}
	}
	for _, p := range answered {
		if !p.from(from) {
			continue
		}
		var answer error
		if denied {
			answer = fmt.Errorf("%w: %s denied transaction %s", auth.ErrDenied, from, p.tid)
		}
		select {
		case p.answer <- answer:
		default: // already answered; the first answer stands
		}
	}
}

func (c *Component) handleMessage(t xmlstream.TokenReadEncoder, start *xml.StartElement) {
	var r inbound
	if err := decodeStanza(t, start, &r); err != nil {
		return
	}
	c.confirms.resolve(r, false)
}

// Confirm asks req.JID (exactly as given) whether it made the request
// (XEP-0070) and waits up to ReplyTimeout. It returns nil on accept,
// auth.ErrDenied on deny or timeout, auth.ErrUnavailable when not
// connected or when the connection drops meanwhile, and ctx's error when
// ctx ends first. At most MaxPendingPerUser questions wait for one user
// at a time; more are ErrUnavailable (retry later).
func (c *Component) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	if req.JID.Localpart() == "" || req.TransactionID == "" {
		return fmt.Errorf("%w: confirm needs a user JID and a transaction id", auth.ErrDenied)
	}
	sess, sessCtx, ok := c.current()
	if !ok {
		return fmt.Errorf("%w: xmpp not connected", auth.ErrUnavailable)
	}
	p := &pendingConfirm{to: req.JID, tid: req.TransactionID, id: randomID(), answer: make(chan error, 1)}
	// Registered before sending: the answer may arrive before Send returns.
	if err := c.confirms.add(p); err != nil {
		return err
	}
	defer c.confirms.remove(p)

	timer := time.NewTimer(c.cfg.ReplyTimeout)
	defer timer.Stop()
	sendCtx, cancel := context.WithTimeout(ctx, c.cfg.ReplyTimeout)
	defer cancel()
	if err := sess.Send(sendCtx, confirmMessage(c.jid, p.id, req)); err != nil {
		return fmt.Errorf("%w: send confirm to %s: %v", auth.ErrUnavailable, req.JID, err)
	}
	select {
	case err := <-p.answer:
		return err
	case <-timer.C:
		return fmt.Errorf("%w: %s did not answer transaction %s within %s", auth.ErrDenied, req.JID, req.TransactionID, c.cfg.ReplyTimeout)
	case <-sessCtx.Done():
		return fmt.Errorf("%w: xmpp connection lost while confirming with %s", auth.ErrUnavailable, req.JID)
	case <-ctx.Done():
		return fmt.Errorf("confirm with %s: %w", req.JID, ctx.Err())
	}
}

// confirmMessage is the XEP-0070 question of API.md.
func confirmMessage(from jid.JID, id string, req auth.ConfirmRequest) xml.TokenReader {
	msg := stanza.Message{ID: id, To: req.JID, From: from, Type: stanza.NormalMessage}
	text := func(local, s string) xml.TokenReader {
		return xmlstream.Wrap(xmlstream.Token(xml.CharData(s)), xml.StartElement{Name: xml.Name{Local: local}})
	}
	confirm := xml.StartElement{
		Name: xml.Name{Space: NSHTTPAuth, Local: "confirm"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "id"}, Value: req.TransactionID},
			{Name: xml.Name{Local: "method"}, Value: req.Method},
			{Name: xml.Name{Local: "url"}, Value: req.URL},
		},
	}
	return msg.Wrap(xmlstream.MultiReader(
		text("thread", randomID()),
		text("body", "Confirmation message for transaction "+req.TransactionID),
		xmlstream.Wrap(nil, confirm),
	))
}
