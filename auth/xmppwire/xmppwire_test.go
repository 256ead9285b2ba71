package xmppwire

import (
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/xmlstream"
)

// A disco#info answer with the API form, as the component sends it,
// decodes to the same endpoint on the client's side; other forms and a
// form without an endpoint are not taken for it.
func TestEndpointRoundTrip(t *testing.T) {
	other := DataForm{Type: "result", Fields: []FormField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{"urn:example:other"}},
		{Var: "endpoint", Values: []string{"https://wrong.example"}},
	}}
	for _, tc := range []struct {
		name  string
		forms []DataForm
		want  string
	}{
		{"api form", []DataForm{other, APIForm("https://media.example.com")}, "https://media.example.com"},
		{"no api form", []DataForm{other}, ""},
		{"api form without endpoint", []DataForm{{Type: "result", Fields: APIForm("").Fields[:1]}}, ""},
	} {
		sent := DiscoInfo{Identities: []DiscoIdentity{{Category: "component", Type: "generic", Name: "Media Server"}}, Forms: tc.forms}
		b, err := xml.Marshal(sent)
		if err != nil {
			t.Fatal(err)
		}
		var got DiscoInfo
		if err := xml.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v in %s", tc.name, err, b)
		}
		if got.Endpoint() != tc.want {
			t.Errorf("%s: endpoint %q, want %q (%s)", tc.name, got.Endpoint(), tc.want, b)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://media.example.com", true},
		{"http://127.0.0.1:8080/", true},
		{"https://example.com/media/api", true},
		{"ftp://media.example.com", false},
		{"media.example.com", false},
		{"https:///path", false},
		{"https://media.example.com/?a=b", false},
		{"https://media.example.com/#top", false},
		{"javascript:alert(1)", false},
		{"", false},
	} {
		if err := CheckEndpoint(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

// The upload form a service announces is read back by a client as the
// same limit; the feature alone is an upload service without a limit, and
// a size field in some other form is not taken for the limit.
func TestUploadRoundTrip(t *testing.T) {
	otherForm := DataForm{Type: "result", Fields: []FormField{
		{Var: "FORM_TYPE", Type: "hidden", Values: []string{"urn:example:other"}},
		{Var: "max-file-size", Values: []string{"1"}},
	}}
	feature := []DiscoFeature{{Var: NSDiscoInfo}, {Var: NSHTTPUpload}}
	for _, tc := range []struct {
		name     string
		features []DiscoFeature
		forms    []DataForm
		wantOK   bool
		wantMax  int64
	}{
		{"feature and form", feature, []DataForm{otherForm, UploadForm(50 << 20)}, true, 50 << 20},
		{"feature alone", feature, []DataForm{otherForm}, true, 0},
		{"form without the feature", feature[:1], []DataForm{UploadForm(7)}, false, 7},
	} {
		b, err := xml.Marshal(DiscoInfo{Features: tc.features, Forms: tc.forms})
		if err != nil {
			t.Fatal(err)
		}
		var got DiscoInfo
		if err := xml.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v in %s", tc.name, err, b)
		}
		if ok, max := got.Upload(); ok != tc.wantOK || max != tc.wantMax {
			t.Errorf("%s: Upload() = %v, %d, want %v, %d (%s)", tc.name, ok, max, tc.wantOK, tc.wantMax, b)
		}
	}
}

// A confirm element as sent decodes to the same question, and one in
// another namespace is not a confirm.
func TestConfirmRoundTrip(t *testing.T) {
	sent := Confirm{ID: "tx:1", Method: "GET", URL: "https://media.example.com/a@b/x?y=1&z=2"}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if _, err := xmlstream.Copy(enc, sent.TokenReader()); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Confirm *Confirm
	}
	if err := xml.Unmarshal([]byte("<message>"+b.String()+"</message>"), &msg); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	if msg.Confirm == nil || msg.Confirm.ID != sent.ID || msg.Confirm.Method != sent.Method || msg.Confirm.URL != sent.URL {
		t.Errorf("decoded %+v from %s, want %+v", msg.Confirm, b.String(), sent)
	}
	msg.Confirm = nil
	if err := xml.Unmarshal([]byte(`<message><confirm xmlns='urn:example:other' id='x'/></message>`), &msg); err != nil || msg.Confirm != nil {
		t.Errorf("a confirm in another namespace decoded as %+v, %v", msg.Confirm, err)
	}
}

// ReplyStart gives the reply's start element, and an error for a reply
// that ends at once or does not begin with an element.
func TestReplyStart(t *testing.T) {
	start, err := ReplyStart(xml.NewDecoder(strings.NewReader(`<iq type='result' id='1'/>`)))
	if err != nil || start.Name.Local != "iq" {
		t.Errorf("ReplyStart = %v, %v, want the iq element", start.Name, err)
	}
	for _, bad := range []string{"", "text first<iq/>"} {
		if start, err := ReplyStart(xml.NewDecoder(strings.NewReader(bad))); err == nil {
			t.Errorf("ReplyStart(%q) = %v, want an error", bad, start.Name)
		}
	}
}
