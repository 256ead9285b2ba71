package mediasvc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every answer, success or error, on every route, tells the browser not to
// send this server's URLs (which carry ?auth= credentials) on as a Referer.
func TestReferrerPolicyEverywhere(t *testing.T) {
	e := newEnv(t)
	item := e.mustUpload(privateChan, alice, pngImage(t, 16, 12, false), "image/png")
	form := func(v url.Values) (string, *strings.Reader) {
		return "application/x-www-form-urlencoded", strings.NewReader(v.Encode())
	}
	tests := []struct {
		name, method, path, user string
		status                   int
	}{
		{"healthz", http.MethodGet, "/healthz", "", http.StatusOK},
		{"readyz", http.MethodGet, "/readyz", "", http.StatusOK},
		{"demo absent", http.MethodGet, "/demo/", "", http.StatusNotFound},
		{"preflight", http.MethodOptions, "/" + privateChan, "", http.StatusNoContent},
		{"list", http.MethodGet, "/" + privateChan, alice, http.StatusOK},
		{"list without credentials", http.MethodGet, "/" + privateChan, "", http.StatusUnauthorized},
		{"download", http.MethodGet, "/" + privateChan + "/" + item.ID, alice, http.StatusOK},
		{"head", http.MethodHead, "/" + privateChan + "/" + item.ID, alice, http.StatusOK},
		{"preview", http.MethodGet, "/" + privateChan + "/" + item.ID + "?maxwidth=8", alice, http.StatusOK},
		{"metadata", http.MethodGet, "/" + privateChan + "/" + item.ID + "/metadata", alice, http.StatusOK},
		{"forbidden", http.MethodGet, "/" + privateChan + "/" + item.ID, mallory, http.StatusForbidden},
		{"not found", http.MethodGet, "/" + privateChan + "/nosuchitem", alice, http.StatusNotFound},
		{"bad entity", http.MethodGet, "/@@/x", "", http.StatusBadRequest},
		{"no route", http.MethodGet, "/a/b/c/d", "", http.StatusNotFound},
		{"method not allowed", http.MethodPatch, "/" + privateChan + "/" + item.ID, alice, http.StatusMethodNotAllowed},
		{"update", http.MethodPost, "/" + privateChan + "/" + item.ID, alice, http.StatusOK},
		{"upload refused", http.MethodPost, "/" + privateChan, carol, http.StatusForbidden},
		{"avatar without a body", http.MethodPut, "/" + privateChan + "/avatar", alice, http.StatusUnsupportedMediaType},
		{"delete", http.MethodDelete, "/" + privateChan + "/" + item.ID, alice, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{"Origin": {"https://pages.example"}}
			var resp *http.Response
			var b []byte
			if tt.name == "update" {
				ct, body := form(url.Values{"title": {"t"}})
				header.Set("Content-Type", ct)
				resp, b = e.do(tt.method, tt.path, tt.user, body, header)
			} else {
				resp, b = e.do(tt.method, tt.path, tt.user, nil, header)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s: %d, want %d (%s)", tt.method, tt.path, resp.StatusCode, tt.status, b)
			}
			if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("%s %s (%d): Referrer-Policy %q, want no-referrer", tt.method, tt.path, resp.StatusCode, got)
			}
		})
	}
}
