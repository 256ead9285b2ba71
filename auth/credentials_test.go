package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// encodings are the ways clients (and the HTTP API proxy) send the same
// credentials: both alphabets, padded or not, and mixed alphabets.
var encodings = []struct {
	name string
	enc  func([]byte) string
}{
	{"std padded", base64.StdEncoding.EncodeToString},
	{"std raw", base64.RawStdEncoding.EncodeToString},
	{"url padded", base64.URLEncoding.EncodeToString},
	{"url raw", base64.RawURLEncoding.EncodeToString},
	{"mixed", func(b []byte) string {
		// URL-safe, with only the first '-' put back to '+' (as the proxy
		// does when it replaces only some characters).
		return strings.Replace(base64.RawURLEncoding.EncodeToString(b), "-", "+", 1)
	}},
}

func TestParseCredentials(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name          string
		param, header string
		wantJID       string // "" with wantErr false: nil credentials
		wantTID       string
		wantErr       bool
	}{
		{name: "nothing sent", wantJID: ""},
		{name: "auth parameter", param: b64("alice@example.com/phone:tid-1"), wantJID: "alice@example.com/phone", wantTID: "tid-1"},
		{name: "Basic header", header: "Basic " + b64("alice@example.com/phone:tid-1"), wantJID: "alice@example.com/phone", wantTID: "tid-1"},
		{name: "scheme is case-insensitive", header: "bAsIc " + b64("alice@example.com:t"), wantJID: "alice@example.com", wantTID: "t"},
		{name: "extra spaces around the value", header: "  Basic   " + b64("alice@example.com:t") + "  ", wantJID: "alice@example.com", wantTID: "t"},
		{name: "auth parameter wins over the header", param: b64("alice@example.com:a"), header: "Basic " + b64("bob@example.com:b"), wantJID: "alice@example.com", wantTID: "a"},
		{name: "a malformed header does not matter when auth is sent", param: b64("alice@example.com:a"), header: "Bearer xyz", wantJID: "alice@example.com", wantTID: "a"},
		{name: "bare JID", param: b64("alice@example.com:t"), wantJID: "alice@example.com", wantTID: "t"},
		{name: "split on the first colon after the JID", param: b64("alice@example.com/phone:a:b:c"), wantJID: "alice@example.com/phone", wantTID: "a:b:c"},
		{name: "@ in the resourcepart", param: b64("alice@example.com/ph@ne:t"), wantJID: "alice@example.com/ph@ne", wantTID: "t"},
		{name: "bracketed IPv6 domain", param: b64("alice@[::1]/r:t"), wantJID: "alice@[::1]/r", wantTID: "t"},
		{name: "JID is normalized", param: b64("Alice@Example.COM/phone:t"), wantJID: "alice@example.com/phone", wantTID: "t"},
		{name: "UTF-8 transaction id", param: b64("alice@example.com:überall"), wantJID: "alice@example.com", wantTID: "überall"},
		{name: "longest transaction id", param: b64("alice@example.com:" + strings.Repeat("t", maxTransactionID)), wantJID: "alice@example.com", wantTID: strings.Repeat("t", maxTransactionID)},

		{name: "not Basic", header: "Bearer abc", wantErr: true},
		{name: "scheme only", header: "Basic", wantErr: true},
		{name: "tab instead of space", header: "Basic\t" + b64("alice@example.com:t"), wantErr: true},
		{name: "not base64", param: "!!!", wantErr: true},
		{name: "padding in the middle", param: "YQ==YQ", wantErr: true},
		{name: "no colon", param: b64("alice@example.com/phone"), wantErr: true},
		{name: "empty transaction id", param: b64("alice@example.com:"), wantErr: true},
		{name: "no localpart", param: b64("example.com:t"), wantErr: true},
		{name: "empty localpart", param: b64("@example.com:t"), wantErr: true},
		{name: "two @", param: b64("a@b@example.com:t"), wantErr: true},
		{name: "empty JID", param: b64(":t"), wantErr: true},
		{name: "unclosed IPv6 bracket", param: b64("alice@[::1:t"), wantErr: true},
		{name: "control character in transaction id", param: b64("alice@example.com:t\x00x"), wantErr: true},
		{name: "newline in transaction id", param: b64("alice@example.com:t\nx"), wantErr: true},
		{name: "DEL in transaction id", param: b64("alice@example.com:t\x7f"), wantErr: true},
		{name: "transaction id too long", param: b64("alice@example.com:" + strings.Repeat("t", maxTransactionID+1)), wantErr: true},
		{name: "encoded value too long", param: strings.Repeat("A", maxEncodedCredentials+4), wantErr: true},
		{name: "space in localpart", param: b64("al ice@example.com:t"), wantErr: true},
		{name: "domain with two trailing dots (does not parse back to itself)", param: b64("alice@example.com..:t"), wantErr: true},
		{name: "one trailing dot is the same domain", param: b64("alice@example.com.:t"), wantJID: "alice@example.com", wantTID: "t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCredentials(tc.param, tc.header)
			if tc.wantErr {
				if !errors.Is(err, ErrBadCredentials) || c != nil {
					t.Fatalf("got %+v, %v; want ErrBadCredentials", c, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if tc.wantJID == "" {
				if c != nil {
					t.Fatalf("credentials %+v from nothing", c)
				}
				return
			}
			if c == nil || c.JID.String() != tc.wantJID || c.TransactionID != tc.wantTID {
				t.Fatalf("got %+v, want %s / %s", c, tc.wantJID, tc.wantTID)
			}
		})
	}
}

// TestParseCredentialsEveryAlphabet: the same credentials in every
// alphabet and padding parse the same, in the auth parameter and in the
// header. The raw bytes are chosen so that their base64 has '+' and '/'
// (or '-' and '_').
func TestParseCredentialsEveryAlphabet(t *testing.T) {
	raw := []byte("alice@example.com/phone:>>>???~~")
	if std := base64.StdEncoding.EncodeToString(raw); !strings.ContainsAny(std, "+") || !strings.Contains(std, "/") || !strings.HasSuffix(std, "=") {
		t.Fatalf("test input %s does not exercise '+', '/' and padding", std)
	}
	for _, e := range encodings {
		encoded := e.enc(raw)
		for _, where := range []string{"param", "header"} {
			t.Run(e.name+"/"+where, func(t *testing.T) {
				var c *Credentials
				var err error
				if where == "param" {
					c, err = ParseCredentials(encoded, "")
				} else {
					c, err = ParseCredentials("", "Basic "+encoded)
				}
				if err != nil {
					t.Fatalf("%s: %v", encoded, err)
				}
				if c.JID.String() != "alice@example.com/phone" || c.TransactionID != ">>>???~~" {
					t.Fatalf("%s: got %+v", encoded, c)
				}
			})
		}
	}
}
