package mediasvc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/transform"
)

const (
	idLength   = 20
	idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	avatarID   = "avatar"
	// maxJIDBytes: a JID's three parts are at most 1023 bytes each.
	maxJIDBytes = 3071
)

// newMediaID returns 20 uniformly random characters of [A-Za-z0-9] from
// crypto/rand (rejection sampling keeps it uniform).
func newMediaID() string {
	out := make([]byte, 0, idLength)
	var buf [32]byte
	for len(out) < idLength {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // the platform is broken
		}
		for _, b := range buf {
			if b < 248 && len(out) < idLength { // 248 = 4*62
				out = append(out, idAlphabet[int(b)%len(idAlphabet)])
			}
		}
	}
	return string(out)
}

func validMediaID(id string) bool {
	if len(id) != idLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !strings.ContainsRune(idAlphabet, rune(id[i])) {
			return false
		}
	}
	return true
}

// entityOf reads the {entity} path parameter: a bare JID with a localpart,
// '@' literal or percent-encoded.
func entityOf(r *http.Request) (jid.JID, error) {
	s, err := pathParam(r, "entity")
	if err != nil || s == "" || len(s) > maxJIDBytes {
		return jid.JID{}, errorf(http.StatusBadRequest, "entity is not a valid bare JID")
	}
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() == "" || j.Resourcepart() != "" || !canonicalJID(j) {
		return jid.JID{}, errorf(http.StatusBadRequest, "entity is not a valid bare JID")
	}
	return j, nil
}

// canonicalJID reports whether j parses back to itself. jid.Parse strips
// one trailing dot of a domain per call, so "a@example.." would be stored
// under "a@example." while the authorizer, parsing that string again, was
// asked about "a@example".
func canonicalJID(j jid.JID) bool {
	again, err := jid.Parse(j.String())
	return err == nil && again.String() == j.String()
}

// pathParam returns a path parameter decoded exactly once. chi matches
// on r.URL.RawPath when the request had escapes that the decoded Path
// cannot show (such as %40 or %2F) and then hands out still-encoded
// values; otherwise it matches on Path, whose values are decoded already
// and must not be decoded again (else "/100%2525@x" would name the
// channel 100%@x instead of 100%25@x).
func pathParam(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v, nil
	}
	return url.PathUnescape(v)
}

// mediaIDOf reads {mediaID}: a 20-character id or the word "avatar". Any
// other string names no item.
func mediaIDOf(r *http.Request) (string, error) {
	id, err := pathParam(r, "mediaID")
	if err != nil || (id != avatarID && !validMediaID(id)) {
		return "", errorf(http.StatusNotFound, "not found")
	}
	return id, nil
}

// entityDir is where an entity's blobs live. The JID never becomes a path
// component: its SHA-256 does, so no client string can shape the layout.
func entityDir(entity string) string {
	sum := sha256.Sum256([]byte(entity))
	h := hex.EncodeToString(sum[:16])
	return "m/" + h[:2] + "/" + h
}

func originalKey(entity, id string) string { return entityDir(entity) + "/" + id }

// posterKey is where a video's still frame lives.
func posterKey(entity, id string) string { return entityDir(entity) + "/" + id + ".poster" }

func previewKey(entity, id string, b transform.Box) string {
	return fmt.Sprintf("%s/%s.%dx%d", entityDir(entity), id, b.Width, b.Height)
}

const maxTextField = 8 << 10

// cleanText checks a client-supplied text field: valid UTF-8, bounded, no
// control characters other than newlines and tabs.
func cleanText(name, v string) (string, error) {
	if len(v) > maxTextField {
		return "", errorf(http.StatusBadRequest, name+" is too long")
	}
	if !utf8.ValidString(v) {
		return "", errorf(http.StatusBadRequest, name+" is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", errorf(http.StatusBadRequest, name+" contains control characters")
		}
	}
	return v, nil
}

// cleanFileName keeps the last path element of a client's file name, so it
// is only ever a name, never a path.
func cleanFileName(v string) (string, error) {
	v, err := cleanText("filename", v)
	if err != nil {
		return "", err
	}
	v = strings.ReplaceAll(v, "\\", "/")
	v = path.Base(v)
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, v)
	if v == "." || v == "/" || v == ".." {
		v = ""
	}
	if len(v) > 255 {
		return "", errorf(http.StatusBadRequest, "filename is too long")
	}
	return v, nil
}

// extensionOf is the file name's extension, lower case, when it is short
// and plain; else empty.
func extensionOf(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	if len(ext) == 0 || len(ext) > 10 {
		return ""
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return ext
}

func parseBare(s string) (jid.JID, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return jid.JID{}, err
	}
	return j.Bare(), nil
}
