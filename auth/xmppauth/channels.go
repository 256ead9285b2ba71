package xmppauth

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppwire"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

var _ auth.Channels = (*Component)(nil)

const (
	// discoveryTTL is how long a discovered channel server is trusted
	// before it is looked up again.
	discoveryTTL = 10 * time.Minute
	// maxDiscovered bounds the discovery cache: entity domains come from
	// request paths, so anyone can make up new ones.
	maxDiscovered = 1024
	// affiliationPage is the XEP-0059 page size asked for (a server may
	// use smaller pages; Prosody 0.12 sends the whole list at once), and
	// maxAffiliations bounds the list: a bigger one is ErrUnavailable,
	// never a partial list that could leave out an owner.
	affiliationPage = 1000
	maxAffiliations = 100_000
	// maxAffiliationPages bounds the walk through a server that keeps
	// paging in small pages (100 pages of 1000, or 1000 pages of 100).
	maxAffiliationPages = 1000
	// maxDiscoItems bounds how many of a domain's disco items are asked
	// whether they are its channel server.
	maxDiscoItems = 50
	// FormTypeMetaData is the FORM_TYPE of a node's disco#info form.
	FormTypeMetaData = "http://jabber.org/protocol/pubsub#meta-data"
	// ChannelsIdentityType is the disco identity (category pubsub) of a
	// channel server.
	ChannelsIdentityType = "channels"
)

// AccessModel returns the access model of entity's posts node alone: one
// disco#info question to the channel server (after discovery), whatever
// the size of its affiliation list. A node the channel server does not
// have, or a domain without a channel server, is a zero ChannelInfo.
func (c *Component) AccessModel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	entity = entity.Bare()
	server, ok, err := c.channelServerFor(ctx, entity.Domain().String())
	if err != nil || !ok {
		return auth.ChannelInfo{}, err
	}
	node := PostsNode(entity)
	model, exists, err := c.accessModel(ctx, server, node)
	if err != nil {
		return auth.ChannelInfo{}, fmt.Errorf("access model of %s on %s: %w", node, server, err)
	}
	if !exists {
		return auth.ChannelInfo{}, nil
	}
	return auth.ChannelInfo{AccessModel: model}, nil
}

// PostsNode is entity's posts node on the channel server.
func PostsNode(entity jid.JID) string { return "/user/" + entity.Bare().String() + "/posts" }

// Channel returns the access model and affiliations of entity's posts
// node. A node the channel server does not have, or a domain without a
// channel server, is a zero ChannelInfo. Anything else that goes wrong
// (not connected, a stanza error, a timeout) is auth.ErrUnavailable.
func (c *Component) Channel(ctx context.Context, entity jid.JID) (auth.ChannelInfo, error) {
	entity = entity.Bare()
	server, ok, err := c.channelServerFor(ctx, entity.Domain().String())
	if err != nil {
		return auth.ChannelInfo{}, err
	}
	if !ok {
		return auth.ChannelInfo{}, nil
	}
	node := PostsNode(entity)
	// The access model and the affiliations are independent questions:
	// ask both at once to halve the latency.
	type modelResult struct {
		model  string
		exists bool
		err    error
	}
	modelc := make(chan modelResult, 1)
	go func() {
		var r modelResult
		r.model, r.exists, r.err = c.accessModel(ctx, server, node)
		modelc <- r
	}()
	affs, affsExist, affErr := c.affiliations(ctx, server, node)
	m := <-modelc
	switch {
	case m.err != nil:
		return auth.ChannelInfo{}, fmt.Errorf("access model of %s on %s: %w", node, server, m.err)
	case !m.exists:
		return auth.ChannelInfo{}, nil
	case affErr != nil:
		return auth.ChannelInfo{}, fmt.Errorf("affiliations of %s on %s: %w", node, server, affErr)
	case !affsExist: // deleted between the two questions
		return auth.ChannelInfo{}, nil
	}
	return auth.ChannelInfo{AccessModel: m.model, Affiliations: affs}, nil
}

// channelServerFor returns the configured channel server, or the one
// discovered for domain: the first disco#items entry of the domain whose
// disco#info has the identity pubsub/channels. ok is false when the domain
// has none.
func (c *Component) channelServerFor(ctx context.Context, domain string) (server jid.JID, ok bool, err error) {
	if !c.channelServer.Equal(jid.JID{}) {
		return c.channelServer, true, nil
	}
	if s, hit := c.discovered.Get(domain, time.Now()); hit {
		return s, !s.Equal(jid.JID{}), nil
	}
	// Shared by concurrent callers; each gives up when its own ctx ends,
	// while the IQs, bounded by ReplyTimeout, go on for the others.
	server, err = c.discovery.Do(ctx, domain, func(ctx context.Context) (jid.JID, error) {
		s, err := c.discover(ctx, domain)
		if err != nil {
			return jid.JID{}, err
		}
		c.discovered.Put(domain, s, time.Now())
		return s, nil
	})
	if err != nil {
		return jid.JID{}, false, err
	}
	return server, !server.Equal(jid.JID{}), nil
}

func (c *Component) discover(ctx context.Context, domain string) (jid.JID, error) {
	domainJID, err := jid.Parse(domain)
	if err != nil {
		return jid.JID{}, fmt.Errorf("%w: entity domain %q: %v", auth.ErrUnavailable, domain, err)
	}
	var items xmppwire.DiscoItems
	if err := c.iq(ctx, stanza.GetIQ, domainJID, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoItems, Local: "query"}}), &items); err != nil {
		return jid.JID{}, fmt.Errorf("discover channel server of %s: disco#items: %w", domain, unavailable(err))
	}
	var lastErr error
	if len(items.Items) > maxDiscoItems {
		items.Items = items.Items[:maxDiscoItems]
	}
	for _, item := range items.Items {
		if item.Node != "" {
			continue
		}
		j, err := jid.Parse(item.JID)
		if err != nil || j.Equal(c.jid) {
			continue
		}
		var info xmppwire.DiscoInfo
		err = c.iq(ctx, stanza.GetIQ, j, xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"}}), &info)
		if err != nil {
			// An item that says "no" is just not a channel server; one that
			// cannot answer might have been.
			var se stanza.Error
			if !errors.As(err, &se) {
				lastErr = err
			}
			continue
		}
		for _, id := range info.Identities {
			if id.Category == "pubsub" && id.Type == ChannelsIdentityType {
				c.log.Info("discovered channel server", "domain", domain, "server", j.String())
				return j, nil
			}
		}
	}
	if lastErr != nil {
		return jid.JID{}, fmt.Errorf("discover channel server of %s: %w", domain, unavailable(lastErr))
	}
	c.log.Info("no channel server found", "domain", domain, "items", len(items.Items))
	return jid.JID{}, nil
}

// accessModel reads the node's pubsub#access_model from its disco#info
// meta-data form, falling back to the owner configuration form. exists is
// false when the server does not know the node. A node without an access
// model has model "" (private).
func (c *Component) accessModel(ctx context.Context, server jid.JID, node string) (model string, exists bool, err error) {
	var info xmppwire.DiscoInfo
	err = c.iq(ctx, stanza.GetIQ, server, xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: xmppwire.NSDiscoInfo, Local: "query"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}},
	}), &info)
	if isCondition(err, stanza.ItemNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, unavailable(err)
	}
	for _, f := range info.Forms {
		if ft, _ := f.Value("FORM_TYPE"); ft != FormTypeMetaData {
			continue
		}
		if m, ok := f.Value("pubsub#access_model"); ok {
			return m, true, nil
		}
	}
	var cfg struct {
		XMLName   xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
		Configure struct {
			Forms []xmppwire.DataForm `xml:"jabber:x:data x"`
		} `xml:"configure"`
	}
	err = c.iq(ctx, stanza.GetIQ, server, xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "configure"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
		xml.StartElement{Name: xml.Name{Space: xmppwire.NSPubsubOwn, Local: "pubsub"}},
	), &cfg)
	if isCondition(err, stanza.ItemNotFound) {
		return "", false, nil
	}
	var se stanza.Error
	if errors.As(err, &se) {
		// The server will not show the configuration: no known model,
		// which counts as private.
		return "", true, nil
	}
	if err != nil {
		return "", false, unavailable(err)
	}
	for _, f := range cfg.Configure.Forms {
		if m, ok := f.Value("pubsub#access_model"); ok {
			return m, true, nil
		}
	}
	return "", true, nil
}

type rsmSet struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/rsm set"`
	First   string   `xml:"first"`
	Last    string   `xml:"last"`
	Count   string   `xml:"count"`
}

type affiliationsReply struct {
	XMLName      xml.Name `xml:"http://jabber.org/protocol/pubsub#owner pubsub"`
	Affiliations struct {
		Items []struct {
			JID         string `xml:"jid,attr"`
			Affiliation string `xml:"affiliation,attr"`
		} `xml:"affiliation"`
		Set *rsmSet `xml:"http://jabber.org/protocol/rsm set"`
	} `xml:"affiliations"`
	Set *rsmSet `xml:"http://jabber.org/protocol/rsm set"`
}

// affiliations reads the node's owner affiliation list, following
// XEP-0059 pages while the server returns them (a server that ignores the
// request's <set/> returns everything in one answer).
func (c *Component) affiliations(ctx context.Context, server jid.JID, node string) (map[string]auth.Affiliation, bool, error) {
	affs := make(map[string]auth.Affiliation)
	after := ""
	seen := 0
	for page := 0; ; page++ {
		if page == maxAffiliationPages {
			return nil, false, fmt.Errorf("%w: more than %d pages of affiliations", auth.ErrUnavailable, maxAffiliationPages)
		}
		var reply affiliationsReply
		err := c.iq(ctx, stanza.GetIQ, server, affiliationsRequest(node, after), &reply)
		if isCondition(err, stanza.ItemNotFound) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, unavailable(err)
		}
		for _, a := range reply.Affiliations.Items {
			j, err := jid.Parse(a.JID)
			if err != nil || a.Affiliation == "" || a.Affiliation == string(auth.AffNone) {
				continue
			}
			affs[j.Bare().String()] = auth.Affiliation(a.Affiliation)
		}
		seen += len(reply.Affiliations.Items)
		if seen > maxAffiliations {
			return nil, false, fmt.Errorf("%w: more than %d affiliations", auth.ErrUnavailable, maxAffiliations)
		}
		set := reply.Set
		if set == nil {
			set = reply.Affiliations.Set
		}
		// Stop at an unpaged answer, an empty or final page, or a server
		// that does not move forward.
		if set == nil || set.Last == "" || set.Last == after || len(reply.Affiliations.Items) == 0 {
			return affs, true, nil
		}
		if n, err := strconv.Atoi(set.Count); err == nil && seen >= n {
			return affs, true, nil
		}
		after = set.Last
	}
}

func affiliationsRequest(node, after string) xml.TokenReader {
	text := func(local, s string) xml.TokenReader {
		return xmlstream.Wrap(xmlstream.Token(xml.CharData(s)), xml.StartElement{Name: xml.Name{Local: local}})
	}
	set := []xml.TokenReader{text("max", strconv.Itoa(affiliationPage))}
	if after != "" {
		set = append(set, text("after", after))
	}
	return xmlstream.Wrap(
		xmlstream.MultiReader(
			xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "affiliations"}, Attr: []xml.Attr{{Name: xml.Name{Local: "node"}, Value: node}}}),
			xmlstream.Wrap(xmlstream.MultiReader(set...), xml.StartElement{Name: xml.Name{Space: xmppwire.NSRSM, Local: "set"}}),
		),
		xml.StartElement{Name: xml.Name{Space: xmppwire.NSPubsubOwn, Local: "pubsub"}},
	)
}

// iq sends an IQ with payload and decodes the reply's payload into v
// (which may be nil). An error reply is returned as a stanza.Error; no
// connection, a lost connection or a timeout is auth.ErrUnavailable.
func (c *Component) iq(ctx context.Context, typ stanza.IQType, to jid.JID, payload xml.TokenReader, v any) error {
	sess, sessCtx, ok := c.current()
	if !ok {
		return fmt.Errorf("%w: xmpp not connected", auth.ErrUnavailable)
	}
	c.iqsSent.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReplyTimeout)
	defer cancel()
	// The session does not fail waiting IQs when it ends; do it here.
	stop := context.AfterFunc(sessCtx, cancel)
	defer stop()
	resp, err := sess.SendIQElement(ctx, payload, stanza.IQ{Type: typ, To: to, From: c.jid})
	if err != nil {
		if sessCtx.Err() != nil {
			return fmt.Errorf("%w: xmpp connection lost waiting for %s", auth.ErrUnavailable, to)
		}
		return fmt.Errorf("%w: iq to %s: %v", auth.ErrUnavailable, to, err)
	}
	defer resp.Close()
	start, err := xmppwire.ReplyStart(resp)
	if err != nil {
		return fmt.Errorf("%w: reply from %s: %v", auth.ErrUnavailable, to, err)
	}
	if _, err := stanza.UnmarshalIQError(resp, start); err != nil {
		var se stanza.Error
		if errors.As(err, &se) {
			return se
		}
		return fmt.Errorf("%w: reply from %s: %v", auth.ErrUnavailable, to, err)
	}
	if v == nil {
		return nil
	}
	if err := xml.NewTokenDecoder(resp).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: reply from %s: %v", auth.ErrUnavailable, to, err)
	}
	return nil
}

// unavailable marks err as auth.ErrUnavailable unless it already is.
func unavailable(err error) error {
	if err == nil || errors.Is(err, auth.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %v", auth.ErrUnavailable, err)
}

func isCondition(err error, cond stanza.Condition) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == cond
}
