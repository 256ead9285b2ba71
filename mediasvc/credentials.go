package mediasvc

import (
	"sync"

	"github.com/xmppmedia/mediaserver/auth"
)

// A page sends the same credentials with each of its dozens of preview
// requests, and parsing them (base64, then a full JID through PRECIS and
// IDNA) was the largest part of what a private read costs beyond an open
// one. credentialMemo remembers what auth.ParseCredentials made of each
// pair of values. Parsing is a pure function of the two strings, so this
// decides nothing: the request still goes through the Authorizer, with its
// confirmation and affiliation checks, every time.
type credentialMemo struct {
	mu     sync.RWMutex
	parsed map[credentialKey]auth.Credentials
}

type credentialKey struct{ param, header string }

// Bounds: values come from clients. Longer ones are parsed every time,
// and a full memo starts again empty.
const (
	maxMemoCredentials     = 10000
	maxMemoCredentialBytes = 512
)

// parse is auth.ParseCredentials, remembered for well-formed credentials.
// Each call returns its own copy.
func (cm *credentialMemo) parse(param, header string) (*auth.Credentials, error) {
	if param == "" && header == "" || len(param)+len(header) > maxMemoCredentialBytes {
		return auth.ParseCredentials(param, header)
	}
	k := credentialKey{param, header}
	cm.mu.RLock()
	c, ok := cm.parsed[k]
	cm.mu.RUnlock()
	if ok {
		return &c, nil
	}
	parsed, err := auth.ParseCredentials(param, header)
	if err != nil || parsed == nil {
		return parsed, err
	}
	cm.mu.Lock()
	if cm.parsed == nil || len(cm.parsed) >= maxMemoCredentials {
		cm.parsed = make(map[credentialKey]auth.Credentials)
	}
	cm.parsed[k] = *parsed
	cm.mu.Unlock()
	return parsed, nil
}
