package mediasvc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xmppmedia/mediaserver/auth"
)

// The memo answers exactly as auth.ParseCredentials does, the first time
// and every time after, and hands out copies.
func TestCredentialMemoAgreesWithParse(t *testing.T) {
	var cm credentialMemo
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := b64("someone@example.com/" + strings.Repeat("r", 600) + ":tid")
	for _, tc := range []struct{ name, param, header string }{
		{"none", "", ""},
		{"query", b64("carol@example.com/phone:tid-1"), ""},
		{"header", "", "Basic " + b64("carol@example.com/phone:tid-2")},
		{"query wins", b64("bob@example.com/pc:tid-3"), "Basic " + b64("carol@example.com/phone:tid-2")},
		{"not base64", "%%%", ""},
		{"no transaction", b64("carol@example.com/phone"), ""},
		{"bad JID", b64("@@:tid"), ""},
		{"not Basic", "", "Bearer x"},
		{"too long to remember", long, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := auth.ParseCredentials(tc.param, tc.header)
			for i := 0; i < 3; i++ {
				got, err := cm.parse(tc.param, tc.header)
				if (err == nil) != (wantErr == nil) || err != nil && !errors.Is(err, auth.ErrBadCredentials) {
					t.Fatalf("call %d: error %v, want %v", i, err, wantErr)
				}
				if (got == nil) != (want == nil) || got != nil && (!got.JID.Equal(want.JID) || got.TransactionID != want.TransactionID) {
					t.Fatalf("call %d: %+v, want %+v", i, got, want)
				}
				if got != nil {
					// A caller changing its copy changes nobody else's.
					got.TransactionID, got.JID = "changed", jid.MustParse("mallory@example.com")
				}
			}
		})
	}
	for i := 0; i < 2*maxMemoCredentials; i++ {
		cm.parse(b64(fmt.Sprintf("u%d@example.com/r:t", i)), "")
		if n := len(cm.parsed); n > maxMemoCredentials {
			t.Fatalf("%d credentials remembered, bound %d", n, maxMemoCredentials)
		}
	}
}
