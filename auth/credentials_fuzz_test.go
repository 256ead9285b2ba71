package auth

import (
	"errors"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
)

// FuzzParseCredentials feeds arbitrary auth parameters and Authorization
// headers, and arbitrary (JID, transaction id) pairs to encode.
//
// Properties: ParseCredentials never panics; it returns either nil, nil
// (nothing sent), an ErrBadCredentials with no credentials, or credentials
// whose JID has a localpart and whose transaction id is non-empty, short
// and free of control characters. And any valid pair, encoded in any
// alphabet with or without padding, parses back to itself from both
// places.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []struct {
		param, header, jid, tid string
		alphabet                uint8
	}{
		{"YWxpY2VAZXhhbXBsZS5jb20vcGhvbmU6dGlk", "", "alice@example.com/phone", "tid", 0},
		{"", "Basic YWxpY2VAZXhhbXBsZS5jb20vcGhvbmU6dGlk", "alice@example.com", "a:b:c", 1},
		{"YWxpY2VAW", "Basic", "alice@[::1]/r", "t", 2},
		{"-_-_", "basic -_-_==", "Alice@Example.COM/ph@ne", ">>>???~~", 3},
		{"", "Bearer x", "a@b", "über", 4},
		{"====", "Basic  ====", "@example.com", "", 0},
		{"YTpi", "Basic OmI=", "example.com", "\x00", 1},
	} {
		f.Add(s.param, s.header, s.jid, s.tid, s.alphabet)
	}
	f.Fuzz(func(t *testing.T, param, header, jidIn, tidIn string, alphabet uint8) {
		c, err := ParseCredentials(param, header)
		checkParsed(t, param, header, c, err)

		// Round trip of a valid pair. Pairs too long to encode within the
		// limit are skipped early, so the fuzzer does not spend its time
		// minimizing multi-kilobyte strings.
		if len(jidIn)+len(tidIn)+1 > maxEncodedCredentials/4*3 {
			return
		}
		j, err := jid.Parse(jidIn)
		if err != nil || j.Localpart() == "" || !validTID(tidIn) || strings.Contains(j.Resourcepart(), ":") {
			return
		}
		if again, err := jid.Parse(j.String()); err != nil || again.String() != j.String() {
			return // not canonical ("a@b.."): refused by design
		}
		raw := []byte(jidIn + ":" + tidIn)
		encoded := encodings[int(alphabet)%len(encodings)].enc(raw)
		for _, got := range []func() (*Credentials, error){
			func() (*Credentials, error) { return ParseCredentials(encoded, "") },
			func() (*Credentials, error) { return ParseCredentials("", "Basic "+encoded) },
		} {
			c, err := got()
			if err != nil {
				t.Fatalf("valid pair %q / %q encoded %q: %v", jidIn, tidIn, encoded, err)
			}
			if !c.JID.Equal(j) || c.JID.String() != j.String() || c.TransactionID != tidIn {
				t.Fatalf("pair %q / %q came back as %q / %q", jidIn, tidIn, c.JID, c.TransactionID)
			}
		}
	})
}

func validTID(tid string) bool {
	if tid == "" || len(tid) > maxTransactionID {
		return false
	}
	for _, r := range tid {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func checkParsed(t *testing.T, param, header string, c *Credentials, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("error %v is not ErrBadCredentials", err)
		}
		if c != nil {
			t.Fatalf("credentials %+v returned with error %v", c, err)
		}
		return
	}
	if c == nil {
		if param != "" || header != "" {
			t.Fatalf("%q / %q: no credentials and no error", param, header)
		}
		return
	}
	if c.JID.Localpart() == "" {
		t.Fatalf("accepted JID %q has no localpart", c.JID)
	}
	if !validTID(c.TransactionID) {
		t.Fatalf("accepted transaction id %q", c.TransactionID)
	}
	// What was accepted must survive the trip through String: it is put
	// into a stanza's to attribute.
	if again, err := jid.Parse(c.JID.String()); err != nil || !again.Equal(c.JID) {
		t.Fatalf("accepted JID %q does not parse back: %v", c.JID, err)
	}
}
