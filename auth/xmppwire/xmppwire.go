// Package xmppwire holds what the media component and its clients must
// agree on over XMPP: namespaces, the disco queries with the API endpoint
// form (API.md, "Discovery") and the XEP-0363 upload form, the XEP-0070
// confirm element, and the rule an announced endpoint URL follows. It has no behaviour beyond encoding, so both sides can
// import it without depending on each other.
package xmppwire

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/upload"
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
	NSHTTPUpload = upload.NS // XEP-0363, as the mellium library spells it
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

// DiscoItems is a disco#items query, asked (empty) or answered.
type DiscoItems struct {
	XMLName xml.Name    `xml:"http://jabber.org/protocol/disco#items query"`
	Node    string      `xml:"node,attr,omitempty"`
	Items   []DiscoItem `xml:"item"`
}

// DiscoItem is one item of a disco#items answer.
type DiscoItem struct {
	JID  string `xml:"jid,attr"`
	Node string `xml:"node,attr,omitempty"`
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

// UploadForm is the XEP-0363 form an upload service announces with its
// size limit.
func UploadForm(maxFileSize int64) DataForm {
	return DataForm{Type: "result", Fields: []FormField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{NSHTTPUpload}},
		{Var: "max-file-size", Values: []string{strconv.FormatInt(maxFileSize, 10)}},
	}}
}

// Upload reports whether q announces the XEP-0363 feature, and the size
// limit of its upload form (0: none announced).
func (q DiscoInfo) Upload() (bool, int64) {
	found := false
	for _, f := range q.Features {
		found = found || f.Var == NSHTTPUpload
	}
	var max int64
	for _, form := range q.Forms {
		if t, _ := form.Value("FORM_TYPE"); t != NSHTTPUpload {
			continue
		}
		if v, ok := form.Value("max-file-size"); ok {
			max, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return found, max
}

// Confirm is a XEP-0070 <confirm/> element: the question the component
// asks, echoed in the user's answer.
type Confirm struct {
	XMLName xml.Name `xml:"http://jabber.org/protocol/http-auth confirm"`
	ID      string   `xml:"id,attr"`
	Method  string   `xml:"method,attr"`
	URL     string   `xml:"url,attr"`
}

// TokenReader is the element c, for sending inside a message or an IQ.
func (c Confirm) TokenReader() xml.TokenReader {
	return xmlstream.Wrap(nil, xml.StartElement{
		Name: xml.Name{Space: NSHTTPAuth, Local: "confirm"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "id"}, Value: c.ID},
			{Name: xml.Name{Local: "method"}, Value: c.Method},
			{Name: xml.Name{Local: "url"}, Value: c.URL},
		},
	})
}

// DecodeStanza decodes a whole stanza into v. A handler's reader starts
// after the stanza's start element, and Go's decoder only accepts an end
// element whose start it has read itself, so the start is put back first.
func DecodeStanza(t xml.TokenReader, start *xml.StartElement, v any) error {
	return xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(v)
}

// ReplyStart reads the start element of an IQ reply, as returned by the
// session's SendIQ methods, which hand back the stanza unread.
func ReplyStart(resp xml.TokenReader) (xml.StartElement, error) {
	tok, err := resp.Token()
	if err != nil {
		return xml.StartElement{}, err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return xml.StartElement{}, fmt.Errorf("unexpected %T", tok)
	}
	return start, nil
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
