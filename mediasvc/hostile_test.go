package mediasvc

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// TestEntityDecodedOnce: a channel whose JID has a '%' is named by
// percent-encoding it once, and a doubly encoded '@' is not an '@'. (The
// path parameters were decoded twice when the path had no escape that
// Go's decoded Path cannot show, so "/100%2525@example.com" named the
// channel 100%@example.com.)
func TestEntityDecodedOnce(t *testing.T) {
	e := newEnv(t)
	const owner = "100%25@example.com" // a valid JID: '%' is allowed in a localpart
	e.confirm.Accept(owner+"/phone", "tid-pct")
	ownerCred := "Basic " + base64.StdEncoding.EncodeToString([]byte(owner+"/phone:tid-pct"))
	body, ct := multipartBody(t, part{name: "data", file: []byte("x"), fileName: "x.txt"}, part{name: "content-type", value: "text/plain"})
	resp, b := e.do("POST", "/100%2525@example.com", "", body, http.Header{"Content-Type": {ct}, "Authorization": {ownerCred}})
	var m mediaJSON
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &m) != nil || m.EntityID != owner {
		t.Fatalf("upload to the channel %s: %d %s", owner, resp.StatusCode, b)
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/100%2525@example.com/" + m.ID, 200},
		{"/100%2525%40example.com/" + m.ID, 200},
		{"/100%25@example.com/" + m.ID, 403}, // the channel 100%@example.com, not this one
		{"/alice%2540example.com", 400},      // the domain "alice%40example.com"
	} {
		resp, _ := e.do("GET", tc.path, "", nil, http.Header{"Authorization": {ownerCred}})
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}
