// Package xmppwire holds what the media component and its clients must
// agree on over XMPP: namespaces, the disco#info query with its API
// endpoint form (API.md, "Discovery"), and the rule an announced endpoint
// URL follows. It has no behaviour beyond encoding, so both sides can
// import it without depending on each other.
package xmppwire

import (
	"encoding/xml"
	"fmt"
	"net/url"
)

// Namespaces used on the wire.
const (
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSPing       = "urn:xmpp:ping"
	NSHTTPAuth   = "http://jabber.org/protocol/http-auth" // XEP-0070
	NSDataForms  = "jabber:x:data"
	NSPubsub     = "http://jabber.org/protocol/pubsub"
	NSPubsubOwn  = "http://jabber.org/protocol/pubsub#owner"
	NSRSM        = "http://jabber.org/protocol/rsm"
	// APIFormType is the FORM_TYPE of the endpoint form in disco#info.
	APIFormType = "http://buddycloud.org/v1/api"
)

// DiscoInfo is a disco#info query, asked (empty) or answered.
type DiscoInfo struct {
	XMLName    xml.Name        `xml:"http://jabber.org/protocol/disco#info query"`
	Node       string          `xml:"node,attr,omitempty"`
	Identities []DiscoIdentity `xml:"identity"`
	Features   []DiscoFeature  `xml:"feature"`
	Forms      []DataForm      `xml:"jabber:x:data x"`
}

// DiscoIdentity is one identity of a disco#info answer.
type DiscoIdentity struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Name     string `xml:"name,attr,omitempty"`
}

// DiscoFeature is one feature of a disco#info answer.
type DiscoFeature struct {
	Var string `xml:"var,attr"`
}

// DataForm is a XEP-0004 form, here the XEP-0128 extension of disco#info.
type DataForm struct {
	XMLName xml.Name    `xml:"jabber:x:data x"`
	Type    string      `xml:"type,attr"`
	Fields  []FormField `xml:"field"`
}

// FormField is one field of a DataForm.
type FormField struct {
	Var    string   `xml:"var,attr"`
	Type   string   `xml:"type,attr,omitempty"`
	Values []string `xml:"value"`
}

// Value returns the first value of field v.
func (f DataForm) Value(v string) (string, bool) {
	for _, field := range f.Fields {
		if field.Var == v && len(field.Values) > 0 {
			return field.Values[0], true
		}
	}
	return "", false
}

// APIForm is the endpoint form a media component announces for endpoint.
func APIForm(endpoint string) DataForm {
	return DataForm{Type: "result", Fields: []FormField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{APIFormType}},
		{Var: "endpoint", Type: "text-single", Values: []string{endpoint}},
	}}
}

// Endpoint is the endpoint of the API form, "" when none is announced.
func (q DiscoInfo) Endpoint() string {
	for _, form := range q.Forms {
		if t, _ := form.Value("FORM_TYPE"); t != APIFormType {
			continue
		}
		if e, ok := form.Value("endpoint"); ok && e != "" {
			return e
		}
	}
	return ""
}

// CheckEndpoint is the one rule for the API's base URL (http.public_url):
// the component announces it, confirmation URLs and Location headers are
// built by appending paths to it, and clients send credentials to it. So
// it must be an absolute http(s) URL with a host and no query, to which a
// path can be appended.
func CheckEndpoint(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want an http(s) URL with a host and without query, got %q", s)
	}
	return nil
}
