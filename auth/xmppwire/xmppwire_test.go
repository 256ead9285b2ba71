package xmppwire

import (
	"encoding/xml"
	"testing"
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
