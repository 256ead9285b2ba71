package localxmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"

	"mellium.im/xmpp"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// PostsNode is the channel's posts node on the channel server.
func PostsNode(entity jid.JID) string { return "/user/" + entity.Bare().String() + "/posts" }

// CreateChannel (re)creates the posts node of entity on the channel server
// with the access model ("open" or "whitelist") and affiliations (bare JID
// → affiliation; any string Prosody stores, e.g. "moderator"). An
// existing node is deleted first, so its old affiliations are gone.
func (s *Server) CreateChannel(ctx context.Context, entity jid.JID, accessModel string, affs map[string]auth.Affiliation) error {
	c, err := s.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	node := PostsNode(entity)
	esc := xmlEscape
	deleteNode := `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='` + esc(node) + `'/></pubsub>`
	if err := s.adminIQ(ctx, c, deleteNode); err != nil && !isCondition(err, stanza.ItemNotFound) {
		return fmt.Errorf("delete node %s: %w", node, err)
	}
	create := `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + esc(node) + `'/>` +
		`<configure><x xmlns='jabber:x:data' type='submit'>` +
		`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` +
		`<field var='pubsub#access_model'><value>` + esc(accessModel) + `</value></field>` +
		`</x></configure></pubsub>`
	if err := s.adminIQ(ctx, c, create); err != nil {
		return fmt.Errorf("create node %s (%s): %w", node, accessModel, err)
	}
	if len(affs) == 0 {
		return nil
	}
	jids := make([]string, 0, len(affs))
	for j := range affs {
		jids = append(jids, j)
	}
	sort.Strings(jids)
	// In batches: Prosody refuses c2s stanzas over 256 KiB. Through
	// XEP-0060 Prosody saves the whole node for each affiliation it sets,
	// so a big list (a test of big channels) goes through localxmpp's bulk
	// stanza instead, which saves once per batch.
	open, close := `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='`+esc(node)+`'>`, `</affiliations></pubsub>`
	batch := len(jids)
	if len(jids) > 100 {
		open, close = `<bulk xmlns='`+BulkAffiliationsNS+`' node='`+esc(node)+`'>`, `</bulk>`
		batch = 2000
	}
	for len(jids) > 0 {
		n := min(batch, len(jids))
		var b strings.Builder
		b.WriteString(open)
		for _, j := range jids[:n] {
			b.WriteString(`<affiliation jid='` + esc(j) + `' affiliation='` + esc(string(affs[j])) + `'/>`)
		}
		b.WriteString(close)
		if err := s.adminIQ(ctx, c, b.String()); err != nil {
			return fmt.Errorf("set affiliations of %s: %w", node, err)
		}
		jids = jids[n:]
	}
	return nil
}

// DeleteChannel removes entity's posts node (no error if there is none).
func (s *Server) DeleteChannel(ctx context.Context, entity jid.JID) error {
	c, err := s.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	node := PostsNode(entity)
	err = s.adminIQ(ctx, c, `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='`+xmlEscape(node)+`'/></pubsub>`)
	if err != nil && !isCondition(err, stanza.ItemNotFound) {
		return fmt.Errorf("delete node %s: %w", node, err)
	}
	return nil
}

func (s *Server) dialAdmin(ctx context.Context) (*xmppclient.Client, error) {
	admin, err := s.UserJID(AdminUser).WithResource("admin")
	if err != nil {
		return nil, err
	}
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Addr:     s.C2SAddr(),
		JID:      admin,
		Password: s.adminPassword,
		TLS:      s.ClientTLS(),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("channel admin login: %w", err)
	}
	return c, nil
}

// adminIQ sends an IQ set with the given payload to the channel server and
// returns the stanza error of an error reply.
func (s *Server) adminIQ(ctx context.Context, c *xmppclient.Client, payload string) error {
	return SetIQ(ctx, c.Session(), jid.JID{}, s.ChannelServer(), payload)
}

// SetIQ sends an IQ set with a literal XML payload on sess and returns an
// error reply as an error. from is required on a component session and
// zero on a client's (the server stamps it). For provisioning test servers.
func SetIQ(ctx context.Context, sess *xmpp.Session, from, to jid.JID, payload string) error {
	resp, err := sess.SendIQElement(ctx, tokens(payload), stanza.IQ{Type: stanza.SetIQ, To: to, From: from})
	if err != nil {
		return err
	}
	defer resp.Close()
	start, err := xmppwire.ReplyStart(resp)
	if err != nil {
		return fmt.Errorf("reply from %s: %w", to, err)
	}
	_, err = stanza.UnmarshalIQError(resp, start)
	return err
}

func isCondition(err error, cond stanza.Condition) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == cond
}

// tokens turns literal XML into tokens. Go's decoder reports xmlns both as
// the element's namespace and as an attribute; the attribute is dropped so
// the encoder does not write it twice.
func tokens(s string) xml.TokenReader {
	return xmlstream.RemoveAttr(func(_ xml.StartElement, a xml.Attr) bool {
		return a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == "xmlns"
	})(xml.NewDecoder(strings.NewReader(s)))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
