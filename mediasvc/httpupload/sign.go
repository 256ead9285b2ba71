package httpupload

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Grant is what a signed PUT URL allows: one file of exactly this name,
// size and type into slot ID, by Requester, until Expires.
type Grant struct {
	ID        string
	Name      string
	Requester string // bare JID
	Size      int64
	Type      string
	Expires   time.Time
}

// Errors of Verify. Each is a client error (4xx): nothing is stored.
var (
	// ErrBadSignature: the URL was not signed by a server with this key,
	// or a signed field was changed.
	ErrBadSignature = errors.New("upload URL signature does not match")
	// ErrExpired: the URL's validity ended.
	ErrExpired = errors.New("upload URL expired")
)

// Query parameters of a PUT URL.
const (
	paramRequester = "jid"
	paramSize      = "size"
	paramType      = "type"
	paramExpires   = "expires"
	paramSig       = "sig"
)

// signer signs and checks grants with one HMAC-SHA256 key.
type signer struct{ key []byte }

// mac is the HMAC of every field of g, each length-prefixed so that no
// two different grants have the same input.
func (s signer) mac(g Grant) []byte {
	h := hmac.New(sha256.New, s.key)
	var n [8]byte
	for _, f := range []string{"xep0363-put-v1", g.ID, g.Name, g.Requester,
		strconv.FormatInt(g.Size, 10), g.Type, strconv.FormatInt(g.Expires.Unix(), 10)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// query is the signed query string of g's PUT URL.
func (s signer) query(g Grant) string {
	return url.Values{
		paramRequester: {g.Requester},
		paramSize:      {strconv.FormatInt(g.Size, 10)},
		paramType:      {g.Type},
		paramExpires:   {strconv.FormatInt(g.Expires.Unix(), 10)},
		paramSig:       {base64.RawURLEncoding.EncodeToString(s.mac(g))},
	}.Encode()
}

// verify checks the signed query q of a PUT to slot id with file name
// name at time now.
func (s signer) verify(id, name string, q url.Values, now time.Time) (Grant, error) {
	size, err := strconv.ParseInt(q.Get(paramSize), 10, 64)
	if err != nil {
		return Grant{}, ErrBadSignature
	}
	exp, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if err != nil {
		return Grant{}, ErrBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(q.Get(paramSig))
	if err != nil {
		return Grant{}, ErrBadSignature
	}
	g := Grant{ID: id, Name: name, Requester: q.Get(paramRequester), Size: size, Type: q.Get(paramType),
		Expires: time.Unix(exp, 0).UTC()}
	if !hmac.Equal(sig, s.mac(g)) {
		return Grant{}, ErrBadSignature
	}
	// Checked after the signature, so that an expiry is only ever
	// reported for a URL this service really issued.
	if !now.Before(g.Expires) {
		return Grant{}, ErrExpired
	}
	return g, nil
}
