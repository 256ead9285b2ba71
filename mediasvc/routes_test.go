package mediasvc

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xmppmedia/mediaserver/auth"
)

func TestEntityAndIDParsing(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, []byte("file"), "text/plain")
	other := e.mustUpload(openChan, alice, []byte("other"), "text/plain")
	for _, tc := range []struct {
		name, path string
		want       int
	}{
		{"percent-encoded @", "/alice%40example.com/" + m.ID, 200},
		{"literal @", "/alice@example.com/" + m.ID, 200},
		{"no localpart", "/example.com", 400},
		{"full JID", "/alice@example.com%2Fphone", 400},
		{"bad JID", "/a@b@c", 400},
		{"empty localpart", "/@example.com", 400},
		{"spaces", "/alice%20smith@example.com", 400},
		{"overlong", "/" + strings.Repeat("a", 1100) + "@example.com", 400},
		{"traversal", "/..%2F..%2Fetc%2Fpasswd", 400},
		{"traversal as id", "/alice@example.com/..%2F..%2Fmedia.db", 404},
		{"unknown id", "/alice@example.com/AAAAAAAAAAAAAAAAAAAA", 404},
		{"short id", "/alice@example.com/abc", 404},
		{"id of another channel", "/alice@example.com/" + other.ID, 404},
		{"metadata of another channel's id", "/alice@example.com/" + other.ID + "/metadata", 404},
		{"no avatar yet", "/alice@example.com/avatar", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := e.do("GET", tc.path, alice, nil, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, resp.StatusCode, tc.want, b)
			}
			if tc.want != 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("error is not JSON: %s", resp.Header.Get("Content-Type"))
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, []byte("secret"), "text/plain")
	path := "/" + privateChan + "/" + m.ID
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name   string
		query  string
		header string
		want   int
	}{
		{"none", "", "", 401},
		{"auth parameter, URL-safe unpadded", "auth=" + raw("alice@example.com/phone:tid-alice"), "", 200},
		{"Basic header", "", "Basic " + cred(alice), 200},
		{"auth wins over header", "auth=" + raw("carol@example.com/phone:tid-carol"), "Basic " + cred(mallory), 200},
		{"malformed base64", "auth=!!!", "", 400},
		{"no colon", "auth=" + raw("alice@example.com/phone"), "", 400},
		{"malformed JID", "auth=" + raw("alice@@example.com:tid"), "", 400},
		{"not Basic", "", "Bearer abc", 400},
		{"wrong transaction", "auth=" + raw("alice@example.com/phone:other"), "", 403},
		{"outcast", "", "Basic " + cred(mallory), 403},
		{"unaffiliated", "auth=" + raw("eve@example.com/phone:tid-eve"), "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.query != "" {
				p += "?" + tc.query
			}
			h := http.Header{}
			if tc.header != "" {
				h.Set("Authorization", tc.header)
			}
			resp, b := e.do("GET", p, "", nil, h)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.want == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="xmpp"` {
				t.Errorf("401 without WWW-Authenticate: %q", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.want != 200 && strings.Contains(string(b), "secret") {
				t.Errorf("refused request got the file")
			}
		})
	}
}

func TestConfirmationCarriesMethodAndURL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PublicURL = "https://media.example.com/" })
	m := e.mustUpload(privateChan, alice, []byte("x"), "text/plain")
	e.do("DELETE", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	last := e.confirm.Asked[len(e.confirm.Asked)-1]
	if last.Method != "DELETE" || last.URL != "https://media.example.com/"+privateChan+"/"+m.ID || last.JID.String() != alice+"/phone" {
		t.Fatalf("confirmation asked %+v", last)
	}
}

func TestOutagesAre503(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, []byte("x"), "text/plain")
	pub := e.mustUpload(openChan, alice, []byte("public"), "text/plain")

	e.confirm.SetErr(fmt.Errorf("not connected: %w", auth.ErrUnavailable))
	resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("confirmer down: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Public reads need no XMPP round trip to the user.
	resp, b := e.do("GET", "/"+openChan+"/"+pub.ID, "", nil, nil)
	if resp.StatusCode != 200 || string(b) != "public" {
		t.Fatalf("public read while XMPP is down: %d", resp.StatusCode)
	}
	e.confirm.SetErr(nil)

	e.channels.SetErr(fmt.Errorf("timeout: %w", auth.ErrUnavailable))
	resp, _ = e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	if resp.StatusCode != 503 {
		t.Fatalf("channel server down: status %d, want 503 (never a grant)", resp.StatusCode)
	}
	e.channels.SetErr(errors.New("surprise"))
	resp, b = e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	if resp.StatusCode != 500 || strings.Contains(string(b), "surprise") {
		t.Fatalf("unexpected error: status %d body %s (internal text must not leak)", resp.StatusCode, b)
	}
}

func TestPermissionTable(t *testing.T) {
	e := newEnv(t)
	for _, ch := range []string{privateChan, openChan} {
		for _, tc := range []struct {
			user       string
			read, post int
		}{
			{alice, 200, 201}, {dave, 200, 201}, {bob, 200, 201},
			{carol, 200, 403}, {mallory, 403, 403}, {"", 401, 401},
		} {
			if ch == openChan && tc.read != 200 {
				tc.read = 200 // anyone reads an open channel
			}
			t.Run(ch+"/"+tc.user, func(t *testing.T) {
				if resp, _ := e.do("GET", "/"+ch, tc.user, nil, nil); resp.StatusCode != tc.read {
					t.Errorf("list: %d, want %d", resp.StatusCode, tc.read)
				}
				if status, _ := e.upload("/"+ch, tc.user, []byte("x"), "text/plain"); status != tc.post {
					t.Errorf("upload: %d, want %d", status, tc.post)
				}
			})
		}
	}
}

func TestUpdateAndDelete(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, bob, jpegImage(t, 500, 400), "image/jpeg")
	path := "/" + privateChan + "/" + m.ID
	form := func(v url.Values) (*strings.Reader, http.Header) {
		return strings.NewReader(v.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	}

	body, h := form(url.Values{"title": {"new"}})
	if resp, _ := e.do("POST", path, carol, body, h); resp.StatusCode != 403 {
		t.Fatalf("member updated someone's item: %d", resp.StatusCode)
	}
	body, h = form(url.Values{"Title": {"Über"}, "description": {"d"}, "filename": {"../../x.png"}})
	resp, b := e.do("POST", path, bob, body, h)
	var got mediaJSON
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil {
		t.Fatalf("uploader update: %d %s", resp.StatusCode, b)
	}
	if got.Title != "Über" || got.Description != "d" || got.FileName != "x.png" || got.LastUpdatedDate < m.LastUpdatedDate {
		t.Fatalf("after update: %+v", got)
	}
	body, h = form(url.Values{"title": {"by moderator"}})
	if resp, _ := e.do("POST", path, dave, body, h); resp.StatusCode != 200 {
		t.Fatalf("moderator update: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/"+privateChan+"/AAAAAAAAAAAAAAAAAAAA", carol, strings.NewReader(""), h); resp.StatusCode != 403 {
		t.Fatalf("member probing a missing id: %d, want 403 (no existence leak)", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/"+privateChan+"/AAAAAAAAAAAAAAAAAAAA", alice, strings.NewReader(""), h); resp.StatusCode != 404 {
		t.Fatalf("owner updating a missing id: %d, want 404", resp.StatusCode)
	}

	filesBefore := len(e.blobFiles())
	if filesBefore < 2 {
		t.Fatalf("expected the original and its previews on disk, found %d files", filesBefore)
	}
	if resp, _ := e.do("DELETE", path, carol, nil, nil); resp.StatusCode != 403 {
		t.Fatalf("member deleted: %d", resp.StatusCode)
	}
	if resp, _ := e.do("DELETE", path, bob, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("uploader delete: %d", resp.StatusCode)
	}
	if n := len(e.blobFiles()); n != 0 {
		t.Fatalf("delete left %d files (original and previews must go)", n)
	}
	for _, p := range []string{path, path + "/metadata", path + "?maxwidth=100"} {
		if resp, _ := e.do("GET", p, alice, nil, nil); resp.StatusCode != 404 {
			t.Errorf("GET %s after delete: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := e.do("DELETE", path, alice, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("second delete: %d", resp.StatusCode)
	}
}

func TestPutOnlyForAvatar(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, []byte("x"), "text/plain")
	resp, _ := e.do("PUT", "/"+privateChan+"/"+m.ID, alice, strings.NewReader(""), nil)
	if resp.StatusCode != 405 {
		t.Fatalf("PUT on an item: %d, want 405", resp.StatusCode)
	}
	resp, _ = e.do("PATCH", "/"+privateChan+"/"+m.ID, alice, strings.NewReader(""), nil)
	if resp.StatusCode != 405 {
		t.Fatalf("PATCH: %d, want 405", resp.StatusCode)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, e.mustUpload(privateChan, alice, []byte{byte(i)}, "application/octet-stream").ID)
	}
	// newest first
	want := make([]string, len(ids))
	for i := range ids {
		want[i] = ids[len(ids)-1-i]
	}
	var got []string
	after := ""
	for page := 0; page < 10; page++ {
		p := "/" + privateChan + "?max=3"
		if after != "" {
			p += "&after=" + after
		}
		resp, b := e.do("GET", p, alice, nil, nil)
		var items []mediaJSON
		if resp.StatusCode != 200 || json.Unmarshal(b, &items) != nil {
			t.Fatalf("page %d: %d %s", page, resp.StatusCode, b)
		}
		if len(items) > 3 {
			t.Fatalf("page of %d items with max=3", len(items))
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			got = append(got, it.ID)
		}
		after = items[len(items)-1].ID
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged list\n got %v\nwant %v", got, want)
	}
	for _, q := range []string{"max=0", "max=x", "after=short", "after=AAAAAAAAAAAAAAAAAAAA"} {
		if resp, _ := e.do("GET", "/"+privateChan+"?"+q, alice, nil, nil); resp.StatusCode != 400 {
			t.Errorf("?%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.do("OPTIONS", "/"+privateChan+"/avatar", "", nil, http.Header{
		"Origin": {"https://app.example.org"}, "Access-Control-Request-Method": {"PUT"},
	})
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example.org" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || h.Get("Access-Control-Max-Age") != "86400" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	// Every response, errors included, carries CORS and nosniff.
	resp, _ = e.do("GET", "/"+privateChan, "", nil, http.Header{"Origin": {"https://app.example.org"}})
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.org" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("error response headers: %v", resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") == "*" {
		t.Fatal("wildcard origin with credentials")
	}
}

func TestCORSAllowList(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{"https://app.example.org"} })
	for _, tc := range []struct {
		origin string
		want   string
	}{
		{"https://app.example.org", "https://app.example.org"},
		{"https://evil.example", ""},
	} {
		resp, _ := e.do("GET", "/"+openChan, "", nil, http.Header{"Origin": {tc.origin}})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("Origin %s: Allow-Origin %q, want %q", tc.origin, got, tc.want)
		}
		if tc.want == "" && resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials allowed for %s", tc.origin)
		}
	}
}
