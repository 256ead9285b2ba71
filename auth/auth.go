// Package auth decides who may do what to a channel's media. A request's
// credentials are confirmed by the user over XMPP (XEP-0070, a Confirmer)
// and the user's rights come from the channel server (XEP-0060, a Channels
// source); Guard combines the two with the decision table of the API.
//
// The XMPP implementations live in auth/xmppauth. In-process stand-ins for
// fast unit tests live in auth/authtest; the shipped binary never uses them.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"mellium.im/xmpp/jid"
)

// Errors the HTTP layer maps to statuses.
var (
	// ErrNoCredentials: the operation needs credentials and none were sent (401).
	ErrNoCredentials = errors.New("credentials required")
	// ErrBadCredentials: credentials were sent but are malformed (400).
	ErrBadCredentials = errors.New("malformed credentials")
	// ErrDenied: the user denied or did not answer the confirmation, or
	// lacks the affiliation the operation needs (403).
	ErrDenied = errors.New("denied")
	// ErrUnavailable: XMPP is not connected, or the channel server failed
	// or timed out; never a grant (503).
	ErrUnavailable = errors.New("authorization unavailable")
	// ErrTooMany: the requester (its network address) already has as many
	// confirmation questions waiting as it may; it should retry later
	// (429). The user the questions are for is not blocked by it.
	ErrTooMany = errors.New("too many confirmations waiting")
)

// Operation is what a request wants to do.
type Operation int

const (
	OpRead   Operation = iota // file, preview, metadata, list
	OpUpload                  // a new media item
	OpAvatar                  // set the channel's avatar
	OpUpdate                  // change an item's metadata
	OpDelete                  // delete an item
)

func (o Operation) String() string {
	switch o {
	case OpRead:
		return "read"
	case OpUpload:
		return "upload"
	case OpAvatar:
		return "avatar"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("Operation(%d)", int(o))
}

// Affiliation is a user's affiliation with a channel's posts node.
type Affiliation string

const (
	AffNone      Affiliation = "none"
	AffOwner     Affiliation = "owner"
	AffModerator Affiliation = "moderator"
	AffPublisher Affiliation = "publisher"
	AffMember    Affiliation = "member"
	AffOutcast   Affiliation = "outcast"
)

// ChannelInfo is what the channel server says about a channel.
type ChannelInfo struct {
	// AccessModel is the posts node's pubsub#access_model; only "open" makes
	// a channel public, anything else (or empty) counts as private.
	AccessModel string
	// Affiliations maps bare JIDs to their affiliation. Absent is AffNone.
	Affiliations map[string]Affiliation
	// StaleFor is set only on an answer that is out of date, served while
	// the channel server cannot be asked: how much longer it may still be
	// served. Guard lets such an answer grant nothing but reads of an
	// open channel, cached for at most StaleFor.
	StaleFor time.Duration
}

// Public reports whether anyone may read the channel.
func (c ChannelInfo) Public() bool { return c.AccessModel == "open" }

// Channels answers what the channel server knows of an entity.
type Channels interface {
	// Channel returns the entity's access model and affiliations. A channel
	// the server does not know is a zero ChannelInfo (private, no one
	// affiliated), not an error. Failures and timeouts are ErrUnavailable.
	Channel(ctx context.Context, entity jid.JID) (ChannelInfo, error)
}

// ConfirmRequest is one XEP-0070 question to a user.
type ConfirmRequest struct {
	JID           jid.JID // asked exactly as given (normally a full JID)
	TransactionID string
	Method        string // the real HTTP method
	URL           string // the request's URL
	// Channel is the bare JID of the channel the request is about: a
	// remembered confirmation of a read covers later reads of this
	// channel only. Zero: nothing is remembered.
	Channel jid.JID
	// Source identifies the requester's network address (see SourceOf);
	// questions waiting for answers are bounded per source, so one
	// address cannot use up a user's or the server's bound.
	Source string
}

// Read reports whether the request only reads (GET or HEAD): the only
// kind a remembered confirmation may cover.
func (r ConfirmRequest) Read() bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// Confirmer asks users whether they made a request.
type Confirmer interface {
	// Confirm returns nil when the user accepted, ErrDenied when the user
	// denied or did not answer in time, and ErrUnavailable when the
	// question could not be asked.
	Confirm(ctx context.Context, req ConfirmRequest) error
}

// Request is one authorization question from the HTTP layer.
type Request struct {
	Op          Operation
	Entity      jid.JID      // the channel (bare)
	Credentials *Credentials // nil when the client sent none
	Method, URL string       // for the confirmation
	// Uploader is the bare JID of the item's author, for OpUpdate and
	// OpDelete; it lets the uploader change their own item.
	Uploader jid.JID
	// Source is the requester's network address as SourceOf makes it.
	Source string
}

// Decision is a granted request.
type Decision struct {
	// Public is set when the channel is open: its media may be cached by
	// shared caches.
	Public bool
	// User is the confirmed user's bare JID; zero for an anonymous read.
	User jid.JID
	// MaxAge, when not zero, bounds how long any cache may keep the answer:
	// the grant rests on stale channel information that may be served
	// only this much longer.
	MaxAge time.Duration
}

// Authorizer decides requests. Guard is the implementation.
type Authorizer interface {
	Authorize(ctx context.Context, req Request) (Decision, error)
}

// Guard implements the decision table of the API on a Channels source and
// a Confirmer.
type Guard struct {
	Channels  Channels
	Confirmer Confirmer
}

var _ Authorizer = (*Guard)(nil)

// Authorize grants req or says why not. The affiliation is checked before
// the user is asked to confirm, so a request that would be refused anyway
// does not disturb the user.
func (g *Guard) Authorize(ctx context.Context, req Request) (Decision, error) {
	info, err := g.Channels.Channel(ctx, req.Entity.Bare())
	if err != nil {
		return Decision{}, fmt.Errorf("channel %s: %w", req.Entity, err)
	}
	if info.StaleFor > 0 {
		// Out-of-date information grants only what was public anyway, and
		// only for as long as it may still be served: never a write (an
		// affiliation may have been taken away), never a private channel.
		if req.Op == OpRead && info.Public() {
			return Decision{Public: true, MaxAge: info.StaleFor}, nil
		}
		return Decision{}, fmt.Errorf("%w: channel server unreachable for %s of %s", ErrUnavailable, req.Op, req.Entity)
	}
	if req.Op == OpRead && info.Public() {
		return Decision{Public: true}, nil
	}
	if req.Credentials == nil {
		return Decision{}, ErrNoCredentials
	}
	user := req.Credentials.JID.Bare()
	aff := info.Affiliations[user.String()]
	if aff == "" {
		aff = AffNone
	}
	self := user.Equal(req.Entity.Bare())
	if !Allowed(req.Op, aff, self, !req.Uploader.Equal(jid.JID{}) && user.Equal(req.Uploader.Bare())) {
		return Decision{}, fmt.Errorf("%w: %s may not %s in %s", ErrDenied, user, req.Op, req.Entity)
	}
	err = g.Confirmer.Confirm(ctx, ConfirmRequest{
		JID:           req.Credentials.JID,
		TransactionID: req.Credentials.TransactionID,
		Method:        req.Method,
		URL:           req.URL,
		Channel:       req.Entity.Bare(),
		Source:        req.Source,
	})
	if err != nil {
		return Decision{}, fmt.Errorf("confirm %s: %w", req.Credentials.JID, err)
	}
	return Decision{Public: info.Public(), User: user}, nil
}

// Allowed is the decision table for a confirmed user: aff is the user's
// affiliation, self that the channel is the user's own bare JID, uploader
// that the user uploaded the item in question.
func Allowed(op Operation, aff Affiliation, self, uploader bool) bool {
	if self {
		return true
	}
	switch op {
	case OpRead:
		return aff == AffOwner || aff == AffModerator || aff == AffPublisher || aff == AffMember
	case OpUpload, OpAvatar:
		return aff == AffOwner || aff == AffModerator || aff == AffPublisher
	case OpUpdate, OpDelete:
		return uploader && aff != AffOutcast || aff == AffOwner || aff == AffModerator
	}
	return false
}
