package auth

import (
	"encoding/base64"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"
)

// Limits on what a client may send as credentials, so parsing costs are
// bounded whatever arrives.
const (
	maxEncodedCredentials = 4096
	maxTransactionID      = 256
)

// Credentials are what a request claims: a JID (normally a full JID) and a
// XEP-0070 transaction id. They prove nothing until confirmed.
type Credentials struct {
	JID           jid.JID
	TransactionID string
}

// ParseCredentials reads credentials from the `auth` query parameter value
// or, when that is empty, from an Authorization header value ("Basic ...").
// Both absent is (nil, nil). Anything malformed is ErrBadCredentials.
func ParseCredentials(authParam, authorization string) (*Credentials, error) {
	var encoded string
	switch {
	case authParam != "":
		encoded = authParam
	case authorization != "":
		scheme, rest, ok := strings.Cut(strings.TrimSpace(authorization), " ")
		if !ok || !strings.EqualFold(scheme, "basic") {
			return nil, fmt.Errorf("%w: Authorization is not Basic", ErrBadCredentials)
		}
		encoded = strings.TrimSpace(rest)
	default:
		return nil, nil
	}
	raw, err := decodeAnyBase64(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCredentials, err)
	}
	jidPart, tid, ok := splitCredentials(string(raw))
	if !ok || tid == "" {
		return nil, fmt.Errorf("%w: want <jid>:<transaction id>", ErrBadCredentials)
	}
	if len(tid) > maxTransactionID {
		return nil, fmt.Errorf("%w: transaction id too long", ErrBadCredentials)
	}
	for _, r := range tid {
		if r < 0x20 || r == 0x7f {
			return nil, fmt.Errorf("%w: control character in transaction id", ErrBadCredentials)
		}
	}
	j, err := jid.Parse(jidPart)
	if err != nil || j.Localpart() == "" {
		return nil, fmt.Errorf("%w: not a user JID", ErrBadCredentials)
	}
	// jid.Parse strips one trailing dot of a domain per call: a JID that
	// does not parse back to itself would name one user here and another
	// wherever its string is parsed again.
	if again, err := jid.Parse(j.String()); err != nil || again.String() != j.String() {
		return nil, fmt.Errorf("%w: not a canonical JID", ErrBadCredentials)
	}
	return &Credentials{JID: j, TransactionID: tid}, nil
}

// decodeAnyBase64 accepts the standard and URL-safe alphabets, mixed, with
// or without padding: the HTTP API proxy replaces only some characters.
func decodeAnyBase64(s string) ([]byte, error) {
	if len(s) > maxEncodedCredentials {
		return nil, fmt.Errorf("credentials longer than %d bytes", maxEncodedCredentials)
	}
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	return base64.RawStdEncoding.DecodeString(s)
}

// splitCredentials splits "<jid>:<tid>" on the first ':' after the JID's
// domain begins. A localpart cannot hold ':'; a bracketed IPv6 domain can,
// so the brackets are skipped. The transaction id may itself contain ':'.
func splitCredentials(s string) (jidPart, tid string, ok bool) {
	start := strings.IndexByte(s, '@') + 1 // 0 when there is no '@'
	if start < len(s) && s[start] == '[' {
		end := strings.IndexByte(s[start:], ']')
		if end < 0 {
			return "", "", false
		}
		start += end
	}
	i := strings.IndexByte(s[start:], ':')
	if i < 0 {
		return "", "", false
	}
	return s[:start+i], s[start+i+1:], true
}
