// Package authtest has in-process stand-ins for the XMPP side of auth, for
// fast unit tests of the HTTP layer. They grant only what a test sets up;
// the shipped binary never uses them.
package authtest

import (
	"context"
	"sync"

	"github.com/xmppmedia/mediaserver/auth"
	"mellium.im/xmpp/jid"
)

// Channels is a Channels source backed by a map a test fills in.
type Channels struct {
	mu       sync.Mutex
	channels map[string]auth.ChannelInfo
	// Err, when set, is returned by every lookup (to test outages).
	Err error
}

var _ auth.Channels = (*Channels)(nil)

// Set records a channel's access model and affiliations (bare JID → affiliation).
func (c *Channels) Set(entity, accessModel string, affs map[string]auth.Affiliation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels == nil {
		c.channels = make(map[string]auth.ChannelInfo)
	}
	c.channels[entity] = auth.ChannelInfo{AccessModel: accessModel, Affiliations: affs}
}

// SetErr makes every lookup fail with err (nil restores normal answers).
func (c *Channels) SetErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Err = err
}

// AccessModel is Channel without the affiliations.
func (c *Channels) AccessModel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	info, err := c.Channel(ctx, entity)
	return auth.ChannelInfo{AccessModel: info.AccessModel}, err
}

func (c *Channels) Channel(_ context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Err != nil {
		return auth.ChannelInfo{}, c.Err
	}
	return c.channels[entity.Bare().String()], nil
}

// Confirmer accepts a transaction when the test said so; everything else is
// denied. It records every question asked.
type Confirmer struct {
	mu       sync.Mutex
	accepted map[string]bool // "fulljid\x00tid"
	Asked    []auth.ConfirmRequest
	Err      error
}

var _ auth.Confirmer = (*Confirmer)(nil)

// Accept makes (j, tid) confirmable.
func (c *Confirmer) Accept(j, tid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.accepted == nil {
		c.accepted = make(map[string]bool)
	}
	c.accepted[j+"\x00"+tid] = true
}

// SetErr makes every confirmation fail with err (nil restores normal answers).
func (c *Confirmer) SetErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Err = err
}

// Count is how many confirmations were asked.
func (c *Confirmer) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.Asked)
}

func (c *Confirmer) Confirm(_ context.Context, req auth.ConfirmRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Asked = append(c.Asked, req)
	if c.Err != nil {
		return c.Err
	}
	if c.accepted[req.JID.String()+"\x00"+req.TransactionID] {
		return nil
	}
	return auth.ErrDenied
}
