package xmppauth

import (
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"sync"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var _ auth.Confirmer = (*Component)(nil)

// Bounds on questions waiting for an answer. Anyone can make the server
// ask an affiliated user about made-up transaction ids, and each question
// waits up to the reply timeout (a hung-up request withdraws its question,
// see auth.NewConfirmCache, but a flooder can keep its requests open).
//
// MaxPendingPerUser keeps one user from being flooded and MaxPending bounds
// memory; the per-source bounds keep one network source (auth.SourceOf:
// an IPv4 address, an IPv6 /64) from using them up. When a user's (or the
// server's) bound is full, a question from a source that has fewer
// questions waiting there than the source with the most takes the place of
// that source's oldest one: a flood can crowd a user's questions down to a
// fair share, never to none. The crowded-out and refused requests get
// auth.ErrTooMany (429), the flooder rather than the user.
const (
	MaxPendingPerUser       = 32
	MaxPending              = 10000
	MaxPendingPerSource     = 1000 // over all users: a carrier-grade NAT holds many users
	MaxPendingPerUserSource = 16   // for one user: half of MaxPendingPerUser
)

// Questions one source may have sent to one user recently, waiting or not:
// a burst of QuestionBurst, then one per QuestionInterval. Withdrawing a
// hung-up request's question frees its place among the waiting ones but
// not the prompt it put on the user's screen, so without this a flooder
// that hangs up at once could prompt a user as fast as it sends requests.
// A person loading pages asks far less (one transaction id per page). Only
// requests with a source (auth.SourceOf) are counted.
const (
	QuestionBurst    = 32
	QuestionInterval = 2 * time.Second
	// maxRateEntries bounds the memory of recent questions; past it,
	// sources that are back to a full burst are forgotten.
	maxRateEntries = 100_000
)

// questionBudget is a token bucket of questions for one (user, source).
type questionBudget struct {
	tokens float64
	at     time.Time
}

// inbound is the part of an incoming message (or IQ) that can answer a
// confirmation request.
type inbound struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	From    string `xml:"from,attr"`
	Type    string `xml:"type,attr"`
	Thread  string `xml:"thread"`
	Confirm *xmppwire.Confirm
	Error   *struct{} `xml:"error"`
}

// pendingConfirm is one question waiting for its answer.
type pendingConfirm struct {
	to          jid.JID // exactly as asked
	user        string  // to's bare JID
	tid         string
	method, url string
	source      string
	id          string     // our message's stanza id
	thread      string     // our message's thread
	seq         uint64     // order of asking, to find the oldest
	answer      chan error // buffered 1: nil (accepted), ErrDenied or ErrTooMany
}

// from reports whether a reply sent by j may answer p: the same full JID
// when a full JID was asked, else the same bare JID.
func (p *pendingConfirm) from(j jid.JID) bool {
	if p.to.Resourcepart() != "" {
		return j.Equal(p.to)
	}
	return j.Bare().Equal(p.to.Bare())
}

// answers reports whether reply r (already known to carry p's transaction
// id) is about p's question: it echoes our stanza id or thread, or the
// method and URL that p asked about. A client that accepts only some
// questions (say, reads) must not accept another question with the same
// transaction id by accepting one of them.
func (p *pendingConfirm) answers(r inbound) bool {
	if r.ID != "" && r.ID == p.id || r.Thread != "" && r.Thread == p.thread {
		return true
	}
	return r.Confirm != nil && r.Confirm.Method == p.method && r.Confirm.URL == p.url
}

// confirmTable indexes pending questions by stanza id and transaction id,
// and counts them per user, per source and per (user, source).
type confirmTable struct {
	mu         sync.Mutex
	seq        uint64
	byID       map[string]*pendingConfirm
	byTID      map[string]map[*pendingConfirm]struct{}
	byUser     map[string]map[*pendingConfirm]struct{}
	bySource   map[string]map[*pendingConfirm]struct{}
	userSource map[[2]string]int
	budgets    map[[2]string]questionBudget
	now        func() time.Time
}

func (t *confirmTable) init() {
	t.byID = make(map[string]*pendingConfirm)
	t.byTID = make(map[string]map[*pendingConfirm]struct{})
	t.byUser = make(map[string]map[*pendingConfirm]struct{})
	t.bySource = make(map[string]map[*pendingConfirm]struct{})
	t.userSource = make(map[[2]string]int)
	t.budgets = make(map[[2]string]questionBudget)
	t.now = time.Now
}

// budget returns the questions (user, source) may still send now.
func (t *confirmTable) budget(k [2]string, now time.Time) questionBudget {
	b, ok := t.budgets[k]
	if !ok {
		return questionBudget{tokens: QuestionBurst, at: now}
	}
	b.tokens = min(QuestionBurst, b.tokens+now.Sub(b.at).Seconds()/QuestionInterval.Seconds())
	b.at = now
	return b
}

// spend takes one question from (user, source)'s budget.
func (t *confirmTable) spend(k [2]string, b questionBudget, now time.Time) {
	b.tokens--
	if _, ok := t.budgets[k]; !ok && len(t.budgets) >= maxRateEntries {
		for other := range t.budgets {
			if t.budget(other, now).tokens >= QuestionBurst {
				delete(t.budgets, other)
			}
		}
		if len(t.budgets) >= maxRateEntries {
			// Still full of recent flooders: forgetting them only lets
			// them send one more burst each.
			clear(t.budgets)
		}
	}
	t.budgets[k] = b
}

func addTo[K comparable](m map[K]map[*pendingConfirm]struct{}, k K, p *pendingConfirm) {
	set := m[k]
	if set == nil {
		set = make(map[*pendingConfirm]struct{})
		m[k] = set
	}
	set[p] = struct{}{}
}

func removeFrom[K comparable](m map[K]map[*pendingConfirm]struct{}, k K, p *pendingConfirm) {
	if set := m[k]; set != nil {
		delete(set, p)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// add registers p, or refuses when too many questions are waiting. A full
// bound makes room by crowding out the oldest question of the source that
// holds most of it, when p's source holds fewer (see MaxPendingPerUser).
func (t *confirmTable) add(p *pendingConfirm) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.bySource[p.source]); n >= MaxPendingPerSource {
		return fmt.Errorf("%w: %d confirmations already waiting from %s", auth.ErrTooMany, n, p.source)
	}
	key := [2]string{p.user, p.source}
	if n := t.userSource[key]; n >= MaxPendingPerUserSource {
		return fmt.Errorf("%w: %d confirmations for %s already waiting from %s", auth.ErrTooMany, n, p.user, p.source)
	}
	now := t.now()
	budget := t.budget(key, now)
	// An empty source is an in-process caller (a test, a tool), not a
	// network requester: it is not rate-bounded.
	if p.source != "" && budget.tokens < 1 {
		return fmt.Errorf("%w: %s was asked %d times from %s recently", auth.ErrTooMany, p.user, QuestionBurst, p.source)
	}
	if len(t.byUser[p.user]) >= MaxPendingPerUser {
		if !t.crowdOut(t.byUser[p.user], p.source) {
			return fmt.Errorf("%w: %d confirmations already waiting for %s", auth.ErrTooMany, MaxPendingPerUser, p.user)
		}
	}
	if len(t.byID) >= MaxPending {
		if !t.crowdOut(nil, p.source) {
			return fmt.Errorf("%w: %d confirmations already waiting", auth.ErrTooMany, MaxPending)
		}
	}
	if p.source != "" {
		t.spend(key, budget, now)
	}
	t.seq++
	p.seq = t.seq
	t.byID[p.id] = p
	addTo(t.byTID, p.tid, p)
	addTo(t.byUser, p.user, p)
	addTo(t.bySource, p.source, p)
	t.userSource[key]++
	return nil
}

// crowdOut ends the oldest question, within scope (nil: all), of the
// sources that have most questions there, if source has fewer. Oldest
// first: a flooder that keeps sending from fresh sources crowds out its
// own older questions before a user's new one. It reports whether it made
// room.
func (t *confirmTable) crowdOut(scope map[*pendingConfirm]struct{}, source string) bool {
	each := func(yield func(*pendingConfirm)) {
		if scope != nil {
			for q := range scope {
				yield(q)
			}
			return
		}
		for _, q := range t.byID {
			yield(q)
		}
	}
	count := make(map[string]int)
	most := 0
	each(func(q *pendingConfirm) {
		count[q.source]++
		most = max(most, count[q.source])
	})
	if count[source] >= most {
		return false
	}
	var oldest *pendingConfirm
	each(func(q *pendingConfirm) {
		if count[q.source] == most && (oldest == nil || q.seq < oldest.seq) {
			oldest = q
		}
	})
	select {
	case oldest.answer <- fmt.Errorf("%w: crowded out by questions from other sources", auth.ErrTooMany):
	default:
	}
	t.removeLocked(oldest)
	return true
}

func (t *confirmTable) remove(p *pendingConfirm) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(p)
}

// removeLocked forgets p; removing it twice is harmless.
func (t *confirmTable) removeLocked(p *pendingConfirm) {
	if t.byID[p.id] != p {
		return
	}
	delete(t.byID, p.id)
	removeFrom(t.byTID, p.tid, p)
	removeFrom(t.byUser, p.user, p)
	removeFrom(t.bySource, p.source, p)
	k := [2]string{p.user, p.source}
	if t.userSource[k]--; t.userSource[k] <= 0 {
		delete(t.userSource, k)
	}
}

// resolve applies a reply to the questions it answers. Only a reply that
// carries the transaction id (in its confirm element) can accept, and only
// the questions it names (by our stanza id, or by method and URL); an
// error without one (a server bounce keeps only the stanza id) denies by
// stanza id. Either way only replies from the asked JID count: anyone
// else's changes nothing.
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
			if p.answers(r) {
				answered = append(answered, p)
			}
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
	if err := xmppwire.DecodeStanza(t, start, &r); err != nil {
		return
	}
	c.confirms.resolve(r, false)
}

// Confirm asks req.JID (exactly as given) whether it made the request
// (XEP-0070) and waits up to ReplyTimeout. It returns nil on accept,
// auth.ErrDenied on deny or timeout, auth.ErrUnavailable when not
// connected or when the connection drops meanwhile, auth.ErrTooMany when
// the bounds on waiting questions (MaxPendingPerUser and the others) leave
// no room for req's source, and ctx's error when ctx ends first (the
// question is then withdrawn: a late answer changes nothing).
func (c *Component) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	if req.JID.Localpart() == "" || req.TransactionID == "" {
		return fmt.Errorf("%w: confirm needs a user JID and a transaction id", auth.ErrDenied)
	}
	sess, sessCtx, ok := c.current()
	if !ok {
		return fmt.Errorf("%w: xmpp not connected", auth.ErrUnavailable)
	}
	p := &pendingConfirm{
		to: req.JID, user: req.JID.Bare().String(), tid: req.TransactionID,
		method: req.Method, url: req.URL, source: req.Source,
		id: rand.Text(), thread: rand.Text(), answer: make(chan error, 1),
	}
	// Registered before sending: the answer may arrive before Send returns.
	if err := c.confirms.add(p); err != nil {
		return err
	}
	defer c.confirms.remove(p)

	timer := time.NewTimer(c.cfg.ReplyTimeout)
	defer timer.Stop()
	sendCtx, cancel := context.WithTimeout(ctx, c.cfg.ReplyTimeout)
	defer cancel()
	if err := sess.Send(sendCtx, confirmMessage(c.jid, p.id, p.thread, req)); err != nil {
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
func confirmMessage(from jid.JID, id, thread string, req auth.ConfirmRequest) xml.TokenReader {
	msg := stanza.Message{ID: id, To: req.JID, From: from, Type: stanza.NormalMessage}
	text := func(local, s string) xml.TokenReader {
		return xmlstream.Wrap(xmlstream.Token(xml.CharData(s)), xml.StartElement{Name: xml.Name{Local: local}})
	}
	return msg.Wrap(xmlstream.MultiReader(
		text("thread", thread),
		text("body", "Confirmation message for transaction "+req.TransactionID),
		xmppwire.Confirm{ID: req.TransactionID, Method: req.Method, URL: req.URL}.TokenReader(),
	))
}
