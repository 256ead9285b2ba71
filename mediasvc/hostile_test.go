package mediasvc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/storage"
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
		{"/100%25@example.com/" + m.ID, 403},     // the channel 100%@example.com, not this one
		{"/alice%2540example.com", 400},          // the domain "alice%40example.com"
		{"/100%2525@example.com./" + m.ID, 200},  // a trailing dot is the same domain
		{"/100%2525@example.com../" + m.ID, 400}, // two are no domain (and parsed differently twice)
	} {
		resp, _ := e.do("GET", tc.path, "", nil, http.Header{"Authorization": {ownerCred}})
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// The permission matrix: every read route against everyone who may not
// read a private channel, and every change against everyone who may not
// make it, over real HTTP with the fixture's stand-ins. Statuses are
// checked, and so is what an attacker would look for: the bytes, ids,
// names and validators in the answer, and the state afterwards.

const eve = "eve@example.com" // unaffiliated with every channel; confirms her requests

// actor is one way of sending a request: who, and how they authenticate.
type actor struct {
	name   string
	header string // Authorization value; "" sends none
	query  string // auth= value, used instead of the header when set
	// asksUser: a refusal of this actor may cost a confirmation (the
	// affiliation allows the operation but the user denies); otherwise
	// the user must not be disturbed.
	asksUser bool
}

func basic(jidAndTID string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(jidAndTID))
}

func rawB64(jidAndTID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(jidAndTID))
}

var (
	anonymous     = actor{name: "anonymous"}
	unaffiliated  = actor{name: "unaffiliated", header: "Basic " + cred(eve)}
	unaffiliatedQ = actor{name: "unaffiliated (auth=)", query: rawB64(eve + "/phone:tid-eve")}
	outcast       = actor{name: "outcast", header: "Basic " + cred(mallory)}
	// Credentials that name a user with rights but whose confirmation the
	// user refuses (a stolen or replayed transaction id).
	denyingMember = actor{name: "denying member", header: basic(carol + "/phone:tid-stolen"), asksUser: true}
	denyingOwner  = actor{name: "denying owner", header: basic(alice + "/phone:tid-stolen"), asksUser: true}
	denyingOwnerQ = actor{name: "denying owner (auth=)", query: rawB64(alice + "/phone:tid-stolen"), asksUser: true}
	otherResource = actor{name: "owner's tid from another resource", header: basic(alice + "/laptop:tid-alice"), asksUser: true}
	denyingPub    = actor{name: "denying publisher", header: basic(bob + "/phone:tid-stolen"), asksUser: true}
	denyingMod    = actor{name: "denying moderator", header: basic(dave + "/phone:tid-stolen"), asksUser: true}
	member        = actor{name: "member", header: "Basic " + cred(carol)}
)

func (a actor) wantStatus() int {
	if a.header == "" && a.query == "" {
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}

// doAs sends a request as a.
func (e *env) doAs(a actor, method, path string, body io.Reader, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	if a.query != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "auth=" + a.query
	} else if a.header != "" {
		h.Set("Authorization", a.header)
	}
	return e.do(method, path, "", body, h)
}

// refusedCleanly fails unless resp is the refusal a should get and
// carries nothing of the item: no validators, no ranges, no file name,
// and a body that is only a JSON error.
func refusedCleanly(t *testing.T, a actor, what string, resp *http.Response, body []byte, secrets ...string) {
	t.Helper()
	if resp.StatusCode != a.wantStatus() {
		t.Errorf("%s as %s: %d, want %d", what, a.name, resp.StatusCode, a.wantStatus())
	}
	for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Content-Disposition", "Location"} {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("%s as %s: refusal carries %s: %q", what, a.name, k, v)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s as %s: refusal Cache-Control %q, want no-store", what, a.name, cc)
	}
	if resp.Request.Method != http.MethodHead {
		var m map[string]string
		if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 || m["error"] == "" {
			t.Errorf("%s as %s: refusal body is not a JSON error: %q", what, a.name, body)
		}
	}
	for _, s := range secrets {
		if s != "" && bytes.Contains(body, []byte(s)) {
			t.Errorf("%s as %s: refusal body contains %q", what, a.name, s)
		}
	}
}

func TestNoPrivateReadsForOutsiders(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AvatarsPublic = false })
	e.confirm.Accept(eve+"/phone", "tid-eve")
	status, photo := e.upload("/"+privateChan, bob, jpegImage(t, 600, 400), "image/jpeg",
		part{name: "title", value: "secrettitle"}, part{name: "filename", value: "secretname.jpg"})
	if status != http.StatusCreated {
		t.Fatalf("upload: %d", status)
	}
	text := e.mustUpload(privateChan, bob, []byte("SECRETBYTES of a private channel"), "text/plain")
	body, ct := multipartBody(t, part{name: "data", file: jpegImage(t, 80, 80)}, part{name: "content-type", value: "image/jpeg"})
	resp, b := e.do("PUT", "/"+privateChan+"/avatar", alice, body, http.Header{"Content-Type": {ct}})
	var avatar mediaJSON
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &avatar) != nil {
		t.Fatalf("avatar: %d %s", resp.StatusCode, b)
	}
	// One preview made on demand and stored, so both a stored and an
	// unmade preview are probed.
	if resp, _ := e.do("GET", "/"+privateChan+"/"+photo.ID+"?maxwidth=100", alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("preview as owner: %d", resp.StatusCode)
	}
	resp, _ = e.do("GET", "/"+privateChan+"/"+text.ID, alice, nil, nil)
	etag := resp.Header.Get("ETag")
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	p := "/" + privateChan
	type probe struct {
		name, method, path string
		header             http.Header
	}
	probes := []probe{
		{"list", "GET", p, nil},
		{"list page", "GET", p + "?max=1", nil},
		{"list after", "GET", p + "?after=" + photo.ID, nil},
		{"file", "GET", p + "/" + text.ID, nil},
		{"file, literal-free path", "GET", "/alice%40example.com/" + text.ID, nil},
		{"image", "GET", p + "/" + photo.ID, nil},
		{"HEAD", "HEAD", p + "/" + text.ID, nil},
		{"range", "GET", p + "/" + text.ID, http.Header{"Range": {"bytes=0-5"}}},
		{"suffix range", "GET", p + "/" + text.ID, http.Header{"Range": {"bytes=-5"}}},
		{"unsatisfiable range", "GET", p + "/" + text.ID, http.Header{"Range": {"bytes=9999-"}}},
		{"If-None-Match (a 304 would confirm the item)", "GET", p + "/" + text.ID, http.Header{"If-None-Match": {etag}}},
		{"If-Modified-Since", "GET", p + "/" + text.ID, http.Header{"If-Modified-Since": {future}}},
		{"stored preview", "GET", p + "/" + photo.ID + "?maxwidth=100", nil},
		{"device preview", "GET", p + "/" + photo.ID + "?maxwidth=240&maxheight=320", nil},
		{"unmade preview", "GET", p + "/" + photo.ID + "?maxwidth=1000", nil},
		{"preview HEAD", "HEAD", p + "/" + photo.ID + "?maxwidth=100", nil},
		{"preview of a non-image", "GET", p + "/" + text.ID + "?maxwidth=100", nil},
		{"metadata", "GET", p + "/" + photo.ID + "/metadata", nil},
		{"avatar", "GET", p + "/avatar", nil},
		{"avatar HEAD", "HEAD", p + "/avatar", nil},
		{"avatar range", "GET", p + "/avatar", http.Header{"Range": {"bytes=0-1"}}},
		{"avatar metadata", "GET", p + "/avatar/metadata", nil},
		{"avatar preview", "GET", p + "/avatar?maxwidth=64", nil},
		{"avatar by id", "GET", p + "/" + avatar.ID, nil},
		// A missing item answers like an existing one: no probing for ids.
		{"missing item", "GET", p + "/AAAAAAAAAAAAAAAAAAAA", nil},
		{"missing metadata", "GET", p + "/AAAAAAAAAAAAAAAAAAAA/metadata", nil},
		{"missing preview", "GET", p + "/AAAAAAAAAAAAAAAAAAAA?maxwidth=10", nil},
	}
	secrets := []string{photo.ID, text.ID, avatar.ID, "secrettitle", "secretname", "SECRETBYTES", photo.ShaChecksum, "\xff\xd8", "\x89PNG", bob}

	filesBefore := fileSet(e)
	for _, a := range []actor{anonymous, unaffiliated, unaffiliatedQ, outcast, denyingMember, denyingOwner, denyingOwnerQ, otherResource} {
		for _, pr := range probes {
			asked := e.confirm.Count()
			resp, b := e.doAs(a, pr.method, pr.path, nil, pr.header)
			refusedCleanly(t, a, pr.name, resp, b, secrets...)
			if !a.asksUser && e.confirm.Count() != asked {
				t.Errorf("%s as %s: the user was asked to confirm a request refused anyway", pr.name, a.name)
			}
		}
	}
	if after := fileSet(e); !equalSets(filesBefore, after) {
		t.Errorf("refused reads changed the store (preview work for outsiders?): %d files before, %d after", len(filesBefore), len(after))
	}
	// The matrix is not vacuous: those who may read, can.
	for _, u := range []string{alice, bob, carol, dave} {
		resp, b := e.do("GET", p+"/"+text.ID, u, nil, nil)
		if resp.StatusCode != 200 || !bytes.HasPrefix(b, []byte("SECRETBYTES")) {
			t.Errorf("%s reading: %d", u, resp.StatusCode)
		}
		if resp, _ := e.do("GET", p+"/avatar", u, nil, nil); resp.StatusCode != 200 {
			t.Errorf("%s reading the avatar: %d", u, resp.StatusCode)
		}
	}
}

// fileSet is the blob store's files.
func fileSet(e *env) map[string]bool {
	out := map[string]bool{}
	for _, f := range e.blobFiles() {
		out[f] = true
	}
	return out
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// channelState is everything a change could alter, as the owner sees it.
type channelState struct {
	list, item, avatar string
	files              map[string]bool
}

func (e *env) stateOf(ch, id string) channelState {
	e.t.Helper()
	_, list := e.do("GET", "/"+ch+"?max=1000", alice, nil, nil)
	_, item := e.do("GET", "/"+ch+"/"+id+"/metadata", alice, nil, nil)
	_, avatar := e.do("GET", "/"+ch+"/avatar/metadata", alice, nil, nil)
	return channelState{list: string(list), item: string(item), avatar: string(avatar), files: fileSet(e)}
}

func (e *env) sameState(what string, before channelState, ch, id string) {
	e.t.Helper()
	after := e.stateOf(ch, id)
	if after.list != before.list || after.item != before.item || after.avatar != before.avatar || !equalSets(after.files, before.files) {
		e.t.Errorf("%s changed the channel:\nlist   %s\n    -> %s\nitem   %s\n    -> %s\navatar %s\n    -> %s\nfiles %d -> %d",
			what, before.list, after.list, before.item, after.item, before.avatar, after.avatar, len(before.files), len(after.files))
	}
	if pending, _ := e.srv.meta.Pending(e.t.(*testing.T).Context(), time.Now().Add(time.Hour)); len(pending) != 0 {
		e.t.Errorf("%s left %d pending uploads", what, len(pending))
	}
}

func TestNoChangesByOutsiders(t *testing.T) {
	e := newEnv(t)
	e.confirm.Accept(eve+"/phone", "tid-eve")
	for _, ch := range []string{privateChan, openChan} {
		item := e.mustUpload(ch, bob, []byte("bob's file"), "text/plain")
		body, ct := multipartBody(t, part{name: "data", file: jpegImage(t, 60, 60)}, part{name: "content-type", value: "image/jpeg"})
		if resp, _ := e.do("PUT", "/"+ch+"/avatar", alice, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 201 {
			t.Fatalf("avatar of %s: %d", ch, resp.StatusCode)
		}
		p := "/" + ch
		type change struct {
			name, method, path string
			body               func() (io.Reader, string)
		}
		multipartUpload := func() (io.Reader, string) {
			return multipartBody(t, part{name: "data", file: []byte("intruder"), fileName: "x.txt"}, part{name: "content-type", value: "text/plain"})
		}
		formUpload := func() (io.Reader, string) {
			return strings.NewReader("content-type=text%2Fplain&data=aW50cnVkZXI"), "application/x-www-form-urlencoded"
		}
		avatarUpload := func() (io.Reader, string) {
			return multipartBody(t, part{name: "data", file: jpegImage(t, 40, 40)}, part{name: "content-type", value: "image/jpeg"})
		}
		retitle := func() (io.Reader, string) {
			return strings.NewReader("title=pwned&filename=pwned.html"), "application/x-www-form-urlencoded"
		}
		retitleMultipart := func() (io.Reader, string) {
			return multipartBody(t, part{name: "title", value: "pwned"})
		}
		none := func() (io.Reader, string) { return nil, "" }
		uploads := []change{
			{"upload (multipart)", "POST", p, multipartUpload},
			{"upload (base64 form)", "POST", p, formUpload},
			{"set avatar", "PUT", p + "/avatar", avatarUpload},
		}
		edits := []change{
			{"update", "POST", p + "/" + item.ID, retitle},
			{"update (multipart)", "POST", p + "/" + item.ID, retitleMultipart},
			{"update avatar", "POST", p + "/avatar", retitle},
			{"delete", "DELETE", p + "/" + item.ID, none},
			{"delete avatar", "DELETE", p + "/avatar", none},
			{"delete missing (no probing)", "DELETE", p + "/AAAAAAAAAAAAAAAAAAAA", none},
			{"update missing (no probing)", "POST", p + "/AAAAAAAAAAAAAAAAAAAA", retitle},
		}
		outsiders := []actor{anonymous, unaffiliated, unaffiliatedQ, outcast, denyingOwner, denyingOwnerQ, otherResource, denyingPub, denyingMod}
		run := func(actors []actor, changes []change) {
			for _, a := range actors {
				for _, c := range changes {
					before := e.stateOf(ch, item.ID)
					asked := e.confirm.Count()
					body, ct := c.body()
					h := http.Header{}
					if ct != "" {
						h.Set("Content-Type", ct)
					}
					resp, b := e.doAs(a, c.method, c.path, body, h)
					refusedCleanly(t, a, ch+": "+c.name, resp, b, "pwned", "intruder")
					if !a.asksUser && e.confirm.Count() != asked {
						t.Errorf("%s: %s as %s: the user was asked to confirm a request refused anyway", ch, c.name, a.name)
					}
					e.sameState(ch+": "+c.name+" as "+a.name, before, ch, item.ID)
				}
			}
		}
		// A member reads but changes nothing, not even with a confirmed request.
		run(append(outsiders, member, denyingMember), uploads)
		run(append(outsiders, member, denyingMember), edits)

		// Those who may, can: the uploader edits, a moderator deletes.
		body, ct = retitle()
		if resp, b := e.do("POST", p+"/"+item.ID, bob, body, http.Header{"Content-Type": {ct}}); resp.StatusCode != 200 || !strings.Contains(string(b), "pwned") {
			t.Errorf("%s: uploader update: %d %s", ch, resp.StatusCode, b)
		}
		if resp, _ := e.do("DELETE", p+"/"+item.ID, dave, nil, nil); resp.StatusCode != 200 {
			t.Errorf("%s: moderator delete: %d", ch, resp.StatusCode)
		}
		if resp, _ := e.do("GET", p+"/"+item.ID, alice, nil, nil); resp.StatusCode != 404 {
			t.Errorf("%s: deleted item still served: %d", ch, resp.StatusCode)
		}
	}

	// An uploader who has since been made an outcast keeps no rights over
	// the item.
	item := e.mustUpload(privateChan, bob, []byte("before the ban"), "text/plain")
	e.channels.Set(privateChan, "whitelist", map[string]auth.Affiliation{alice: auth.AffOwner, bob: auth.AffOutcast})
	before := e.stateOf(privateChan, item.ID)
	body, ct := multipartBody(t, part{name: "title", value: "pwned"})
	resp, _ := e.do("POST", "/"+privateChan+"/"+item.ID, bob, body, http.Header{"Content-Type": {ct}})
	resp2, _ := e.do("DELETE", "/"+privateChan+"/"+item.ID, bob, nil, nil)
	if resp.StatusCode != 403 || resp2.StatusCode != 403 {
		t.Errorf("banned uploader: update %d, delete %d, want 403", resp.StatusCode, resp2.StatusCode)
	}
	e.sameState("banned uploader", before, privateChan, item.ID)
}

// rawExchange writes req on a fresh connection to addr while reading the
// answer (the server may answer and close before the request is all
// sent), and returns the status, or 0 if the server closed without one.
func rawExchange(t *testing.T, addr string, req []byte) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		conn.Write(req)
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

// TestOversizedEverything: every size a client controls is bounded, and
// going over is a 4xx that stores nothing, answered by the http.Server the
// binary runs (HTTPServer).
func TestOversizedEverything(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUploadBytes = 1 << 20 })
	addr := serveWithTimeouts(t, e, DefaultTimeouts())
	authz := "Authorization: Basic " + cred(alice) + "\r\n"
	request := func(method, target, headers string, body []byte) []byte {
		return append([]byte(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n", method, target, headers, len(body))), body...)
	}
	multipartParts := func(n int) []byte {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--B\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i)
		}
		b.WriteString("--B\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nx\r\n--B--\r\n")
		return []byte(b.String())
	}
	multipartField := func(name, value string) []byte {
		return []byte("--B\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"content-type\"\r\n\r\ntext/plain\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nx\r\n--B--\r\n")
	}
	mpHeader := authz + "Content-Type: multipart/form-data; boundary=B\r\n"
	formHeader := authz + "Content-Type: application/x-www-form-urlencoded\r\n"
	manyFields := strings.Repeat("x=1&", 1000) + "content-type=text%2Fplain&data=eA"
	base64OverLimit := "content-type=text%2Fplain&data=" + strings.Repeat("QUFB", (1<<20)/3+10)
	p := "/" + privateChan
	for _, tc := range []struct {
		name string
		req  []byte
		want int
	}{
		{"1 MB header", request("GET", p, "X-Big: "+strings.Repeat("a", 1<<20)+"\r\n", nil), http.StatusRequestHeaderFieldsTooLarge},
		{"many headers", request("GET", p, strings.Repeat("X-A: b\r\n", 20000), nil), http.StatusRequestHeaderFieldsTooLarge},
		{"100 kB request target", request("GET", "/"+strings.Repeat("a", 100<<10)+"@example.com", "", nil), http.StatusRequestHeaderFieldsTooLarge},
		{"10000-character JID", request("GET", "/"+strings.Repeat("a", 10000)+"@example.com", "", nil), http.StatusBadRequest},
		{"10000-character domain", request("GET", "/a@"+strings.Repeat("b", 10000), "", nil), http.StatusBadRequest},
		{"10000-character media id", request("GET", p+"/"+strings.Repeat("A", 10000), authz, nil), http.StatusNotFound},
		{"60 kB query", request("GET", p+"?max=1&x="+strings.Repeat("a", 60<<10), authz, nil), http.StatusOK},
		{"huge max", request("GET", p+"?max=99999999999999999999", authz, nil), http.StatusBadRequest},
		{"form with 1000 fields", request("POST", p, formHeader, []byte(manyFields)), http.StatusBadRequest},
		{"multipart with 1000 parts", request("POST", p, mpHeader, multipartParts(1000)), http.StatusBadRequest},
		{"multipart field name of 100 kB", request("POST", p, mpHeader, multipartField(strings.Repeat("n", 100<<10), "v")), http.StatusBadRequest},
		{"multipart part header of 9 MB", request("POST", p, mpHeader, []byte("--B\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: "+strings.Repeat("a", 9<<20)+"\r\n\r\nv\r\n--B--\r\n")), http.StatusRequestEntityTooLarge},
		{"multipart title of 100 kB", request("POST", p, mpHeader, multipartField("title", strings.Repeat("t", 100<<10))), http.StatusBadRequest},
		{"form field name of 100 kB", request("POST", p, formHeader, []byte(strings.Repeat("n", 100<<10)+"=v&content-type=text%2Fplain&data=eA")), http.StatusBadRequest},
		{"form title of 100 kB", request("POST", p, formHeader, []byte("title="+strings.Repeat("t", 100<<10)+"&content-type=text%2Fplain&data=eA")), http.StatusBadRequest},
		{"form content-type of 100 kB", request("POST", p, formHeader, []byte("content-type="+strings.Repeat("t", 100<<10)+"&data=eA")), http.StatusBadRequest},
		{"base64 file over the limit", request("POST", p, formHeader, []byte(base64OverLimit)), http.StatusRequestEntityTooLarge},
		{"update body over 64 kB", request("POST", p+"/AAAAAAAAAAAAAAAAAAAA", formHeader, []byte("title="+strings.Repeat("t", 70<<10))), http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawExchange(t, addr, tc.req)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %.200s", status, tc.want, body)
			}
			if status >= 400 && status != http.StatusRequestHeaderFieldsTooLarge {
				var m map[string]string
				if json.Unmarshal(body, &m) != nil || m["error"] == "" {
					t.Errorf("not a JSON error: %.200s", body)
				}
			}
		})
	}
	if n := len(e.blobFiles()); n != 0 {
		t.Fatalf("oversized requests stored %d files", n)
	}
	if resp, b := e.do("GET", p, alice, nil, nil); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("oversized uploads listed: %d %s", resp.StatusCode, b)
	}
}

// TestDeclaredOversizeRefusedBeforeTheBody: a Content-Length over the
// limit is refused at once, without waiting for (or reading) the body.
func TestDeclaredOversizeRefusedBeforeTheBody(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUploadBytes = 1 << 20 })
	addr := serveWithTimeouts(t, e, DefaultTimeouts())
	for _, ct := range []string{"multipart/form-data; boundary=B", "application/x-www-form-urlencoded"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /%s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			privateChan, cred(alice), ct, 50<<20)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: no answer without the body: %v", ct, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: %d, want 413", ct, resp.StatusCode)
		}
	}
}

// TestNoHeaderInjectionThroughNames: file names and titles with CR/LF,
// quotes and semicolons never shape a response header.
func TestNoHeaderInjectionThroughNames(t *testing.T) {
	e := newEnv(t)
	evil := []string{
		"evil\r\nX-Injected: 1\r\n\r\n<script>.html",
		"evil\nSet-Cookie: session=stolen.html",
		"a\"; filename=\"other.exe",
		"a;filename*=UTF-8''other.exe",
		"über\r\n.html",
	}
	check := func(t *testing.T, id string) {
		t.Helper()
		resp, _ := e.do("GET", "/"+openChan+"/"+id, "", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
		if resp.Header.Get("X-Injected") != "" || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("header injected: %v", resp.Header)
		}
		cd := resp.Header.Get("Content-Disposition")
		if strings.ContainsAny(cd, "\r\n") {
			t.Fatalf("Content-Disposition with a line break: %q", cd)
		}
		disp, params, err := mime.ParseMediaType(cd)
		if err != nil || disp != "attachment" || len(params) > 1 {
			t.Fatalf("Content-Disposition %q parses as %q %v (%v)", cd, disp, params, err)
		}
		var m mediaJSON
		_, b := e.do("GET", "/"+openChan+"/"+id+"/metadata", "", nil, nil)
		json.Unmarshal(b, &m)
		if params["filename"] != m.FileName || strings.ContainsAny(m.FileName, "\r\n") {
			t.Fatalf("served name %q, stored %q", params["filename"], m.FileName)
		}
	}
	for _, name := range evil {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			// As the filename field, as the data part's own filename, and
			// as an update.
			status, m := e.upload("/"+openChan, alice, []byte("<html>"), "text/html", part{name: "filename", value: name}, part{name: "title", value: name})
			if status != http.StatusCreated {
				t.Fatalf("upload: %d", status)
			}
			if m.Title != name {
				t.Errorf("title %q stored as %q (a title is data, not a header)", name, m.Title)
			}
			check(t, m.ID)
			body, ct := multipartBody(t, part{name: "data", file: []byte("<html>"), fileName: strings.ReplaceAll(name, "\"", "%22")}, part{name: "content-type", value: "text/html"})
			resp, b := e.do("POST", "/"+openChan, alice, body, http.Header{"Content-Type": {ct}})
			if resp.StatusCode == http.StatusCreated {
				json.Unmarshal(b, &m)
				check(t, m.ID)
			}
			form := url.Values{"filename": {name}}.Encode()
			resp, _ = e.do("POST", "/"+openChan+"/"+m.ID, alice, strings.NewReader(form), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			if resp.StatusCode != 200 {
				t.Fatalf("update: %d", resp.StatusCode)
			}
			check(t, m.ID)
		})
	}
}

// TestHostileRanges: many ranges, absurd numbers and garbage never give a
// 500, a wrong length or bytes outside the file.
func TestHostileRanges(t *testing.T) {
	e := newEnv(t)
	data := []byte("0123456789abcdefghij")
	m := e.mustUpload(openChan, alice, data, "application/octet-stream")
	path := "/" + openChan + "/" + m.ID
	thousand := "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 1000), ",")
	overlapping := "bytes=" + strings.TrimSuffix(strings.Repeat("0-19,", 1000), ",")
	for _, rh := range []string{
		thousand, overlapping, "bytes=99999999999999999999-", "bytes=0-99999999999999999999", "bytes=-99999999999999999999",
		"bytes=9223372036854775807-", "bytes=0-9223372036854775807", "bytes=-9223372036854775807", "bytes=-9223372036854775808",
		"bytes=9223372036854775806-9223372036854775807", "bytes=--1", "bytes=-", "bytes=1-0", "bytes=+1-+3", "bytes=0x1-2",
		"bytes= 2-5", "bytes=2-5 ", "BYTES=0-1", "items=0-1", "bytes=", "bytes=-0", "bytes=0-0", "bytes=19-19", "bytes=20-20",
		"bytes=5", "bytes=1-2-3", strings.Repeat("bytes=0-1", 1000),
	} {
		resp, b := e.do("GET", path, "", nil, http.Header{"Range": {rh}})
		name := rh
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if !bytes.Equal(b, data) {
				t.Errorf("%q: 200 with %q", name, b)
			}
		case http.StatusPartialContent:
			var start, end, size int64
			if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &size); err != nil ||
				size != int64(len(data)) || start < 0 || end >= size || start > end || !bytes.Equal(b, data[start:end+1]) {
				t.Errorf("%q: 206 %q with %q", name, resp.Header.Get("Content-Range"), b)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			if resp.Header.Get("Content-Range") != "bytes */20" {
				t.Errorf("%q: 416 with Content-Range %q", name, resp.Header.Get("Content-Range"))
			}
		default:
			t.Errorf("%q: status %d", name, resp.StatusCode)
		}
		if cl := resp.Header.Get("Content-Length"); resp.StatusCode != 416 && cl != fmt.Sprint(len(b)) {
			t.Errorf("%q: Content-Length %s for %d bytes", name, cl, len(b))
		}
	}
}

// TestHugeIfNoneMatch: a list of thousands of tags (as much as the header
// limit allows) is answered promptly, matching only a real tag.
func TestHugeIfNoneMatch(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(openChan, alice, []byte("x"), "text/plain")
	path := "/" + openChan + "/" + m.ID
	resp, _ := e.do("GET", path, "", nil, nil)
	etag := resp.Header.Get("ETag")
	var tags []string
	for i := 0; i < 3000; i++ {
		tags = append(tags, fmt.Sprintf(`W/"%040d"`, i))
	}
	list := strings.Join(tags, ", ")
	// The bound is relative to a request with a one-tag header on the same
	// (loaded, race-instrumented) machine: a parser quadratic in the
	// header's length takes seconds here, a linear one a few times the
	// one-tag request.
	var oneTag time.Duration
	for range 3 {
		start := time.Now()
		e.do("GET", path, "", nil, http.Header{"If-None-Match": {tags[0]}})
		oneTag = max(oneTag, time.Since(start))
	}
	bound := max(time.Second, 50*oneTag)
	for _, tc := range []struct {
		name, inm string
		want      int
	}{
		{"no match", list, 200},
		{"match at the end", list + ", " + etag, 304},
		{"commas only", strings.Repeat(",", 60000), 200},
		{"unquoted junk", strings.Repeat("x ", 30000), 200},
	} {
		start := time.Now()
		resp, _ := e.do("GET", path, "", nil, http.Header{"If-None-Match": {tc.inm}})
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if d := time.Since(start); d > bound {
			t.Errorf("%s: took %v, bound %v (50 times a one-tag request, at least 1 s)", tc.name, d, bound)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedServer runs srv behind the http.Server the binary uses, on a
// loopback port, and returns its base URL.
func loggedServer(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer(DefaultTimeouts())
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

func send(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestCredentialsNeverLogged: whatever a request's auth parameter or
// Authorization header holds (valid, denied, malformed), neither it nor
// its transaction id appears in the log, at the most verbose level,
// including net/http's own messages.
func TestCredentialsNeverLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	channels, confirm := newFixtureAuth()
	confirm.Accept(alice+"/phone", "tid-S3cretAccepted")
	srv := serverWith(t, t.TempDir(), DefaultConfig(), stackOptions{auth: &auth.Guard{Channels: channels, Confirmer: confirm}, log: log})
	base := loggedServer(t, srv)

	accepted := alice + "/phone:tid-S3cretAccepted"
	denied := alice + "/phone:tid-S3cretDenied"
	secrets := []string{"S3cretAccepted", "S3cretDenied", "S3cretMalformed", "S3cretBearer"}
	var encodings []string
	for _, c := range []string{accepted, denied} {
		encodings = append(encodings, base64.StdEncoding.EncodeToString([]byte(c)), base64.RawURLEncoding.EncodeToString([]byte(c)))
	}
	body, ct := multipartBody(t, part{name: "data", file: jpegImage(t, 300, 200), fileName: "p.jpg"}, part{name: "content-type", value: "image/jpeg"})
	resp, b := send(t, "POST", base+"/"+privateChan+"?auth="+encodings[1], body, http.Header{"Content-Type": {ct}})
	var m mediaJSON
	if resp.StatusCode != 201 || json.Unmarshal(b, &m) != nil {
		t.Fatalf("upload with auth=: %d %s", resp.StatusCode, b)
	}
	item := base + "/" + privateChan + "/" + m.ID
	for _, q := range []string{
		"?auth=" + encodings[0], "?auth=" + encodings[1], "?auth=" + encodings[2], "?auth=" + encodings[3],
		"?auth=" + url.QueryEscape(encodings[0]) + "&maxwidth=100",
		"?auth=S3cretMalformed!!", "?auth=" + rawB64("S3cretMalformed"), "?auth=" + encodings[3] + ";x=S3cretMalformed",
		"?maxwidth=abc&auth=" + encodings[2],
	} {
		send(t, "GET", item+q, nil, nil)
		send(t, "GET", item+"/metadata"+q, nil, nil)
		send(t, "GET", base+"/"+privateChan+q, nil, nil)
		send(t, "DELETE", base+"/"+privateChan+"/AAAAAAAAAAAAAAAAAAAA"+q, nil, nil)
	}
	for _, h := range []string{"Basic " + encodings[0], "Basic " + encodings[2], "Bearer S3cretBearer", "Basic S3cretMalformed"} {
		send(t, "GET", item, nil, http.Header{"Authorization": {h}})
	}
	out := logs.String()
	if !strings.Contains(out, "msg=request") || !strings.Contains(out, "status=403") || !strings.Contains(out, "status=400") {
		t.Fatalf("the log does not show the requests; the test proves nothing:\n%s", out)
	}
	for _, s := range append(secrets, encodings...) {
		if strings.Contains(out, s) {
			t.Errorf("the log contains %q:\n%s", s, out)
		}
	}
}

// failingBlobs and failingMeta fail every call while on is set, with an
// error full of internal detail that must never reach a client.
type failingBlobs struct {
	storage.Blobs
	on  *atomic.Bool
	err error
}

func (f failingBlobs) Fetch(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if f.on.Load() {
		return nil, 0, f.err
	}
	return f.Blobs.Fetch(ctx, key)
}

func (f failingBlobs) FetchRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if f.on.Load() {
		return nil, f.err
	}
	return storage.FetchRange(ctx, f.Blobs, key, offset, length)
}

func (f failingBlobs) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if f.on.Load() {
		return 0, f.err
	}
	return f.Blobs.Put(ctx, key, r)
}

type failingMeta struct {
	storage.Metadata
	on  *atomic.Bool
	err error
}

func (f failingMeta) fail() error {
	if f.on.Load() {
		return f.err
	}
	return nil
}

func (f failingMeta) Begin(ctx context.Context, m storage.Media) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Metadata.Begin(ctx, m)
}

func (f failingMeta) Get(ctx context.Context, entity, id string) (storage.Media, error) {
	if err := f.fail(); err != nil {
		return storage.Media{}, err
	}
	return f.Metadata.Get(ctx, entity, id)
}

func (f failingMeta) Avatar(ctx context.Context, entity string) (storage.Media, error) {
	if err := f.fail(); err != nil {
		return storage.Media{}, err
	}
	return f.Metadata.Avatar(ctx, entity)
}

func (f failingMeta) List(ctx context.Context, entity string, page storage.Page) ([]storage.Media, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Metadata.List(ctx, entity, page)
}

func (f failingMeta) Ping(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Metadata.Ping(ctx)
}

// TestStoreErrorsStayInside: when the stores fail with messages full of
// internal detail, every route answers a bare JSON error (500, or 503 with
// Retry-After for an outage), and the detail goes to the log only.
func TestStoreErrorsStayInside(t *testing.T) {
	const detail = "open /srv/secret-volume/m/ab: input/output error on sda3 (pq: password authentication failed for user mediasrv)"
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		message string
	}{
		{"unexpected failure", errors.New(detail), 500, "internal error"},
		{"outage", fmt.Errorf("%s: %w", detail, storage.ErrUnavailable), 503, "storage unavailable, retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			on := &atomic.Bool{}
			channels, confirm := newFixtureAuth()
			srv := serverWith(t, t.TempDir(), DefaultConfig(), stackOptions{
				auth:      &auth.Guard{Channels: channels, Confirmer: confirm},
				log:       log,
				wrapBlobs: func(b storage.Blobs) storage.Blobs { return failingBlobs{Blobs: b, on: on, err: tc.err} },
				wrapMeta:  func(m storage.Metadata) storage.Metadata { return failingMeta{Metadata: m, on: on, err: tc.err} },
			})
			base := loggedServer(t, srv)
			authz := http.Header{"Authorization": {"Basic " + cred(alice)}}
			body, ct := multipartBody(t, part{name: "data", file: jpegImage(t, 200, 100), fileName: "p.jpg"}, part{name: "content-type", value: "image/jpeg"})
			h := http.Header{"Content-Type": {ct}, "Authorization": authz["Authorization"]}
			resp, b := send(t, "POST", base+"/"+privateChan, body, h)
			var m mediaJSON
			if resp.StatusCode != 201 || json.Unmarshal(b, &m) != nil {
				t.Fatalf("upload: %d %s", resp.StatusCode, b)
			}
			on.Store(true)
			item := base + "/" + privateChan + "/" + m.ID
			upload := func() (io.Reader, string) {
				return multipartBody(t, part{name: "data", file: []byte("x"), fileName: "x.txt"}, part{name: "content-type", value: "text/plain"})
			}
			for _, r := range []struct {
				name, method, url string
				body              func() (io.Reader, string)
			}{
				{"list", "GET", base + "/" + privateChan, nil},
				{"file", "GET", item, nil},
				{"HEAD", "HEAD", item, nil},
				{"preview", "GET", item + "?maxwidth=50", nil},
				{"metadata", "GET", item + "/metadata", nil},
				{"avatar", "GET", base + "/" + privateChan + "/avatar", nil},
				{"upload", "POST", base + "/" + privateChan, upload},
				{"set avatar", "PUT", base + "/" + privateChan + "/avatar", upload},
				{"update", "POST", item, func() (io.Reader, string) { return strings.NewReader("title=x"), "application/x-www-form-urlencoded" }},
				{"delete", "DELETE", item, nil},
			} {
				hdr := http.Header{"Authorization": authz["Authorization"]}
				var rb io.Reader
				if r.body != nil {
					var ct string
					rb, ct = r.body()
					hdr.Set("Content-Type", ct)
				}
				resp, b := send(t, r.method, r.url, rb, hdr)
				if resp.StatusCode != tc.status {
					t.Errorf("%s: %d, want %d", r.name, resp.StatusCode, tc.status)
				}
				if r.method != "HEAD" && string(b) != `{"error":"`+tc.message+`"}`+"\n" {
					t.Errorf("%s: body %q", r.name, b)
				}
				if tc.status == 503 && resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s: 503 without Retry-After", r.name)
				}
				for k, vs := range resp.Header {
					for _, v := range vs {
						if strings.Contains(v, "secret") || strings.Contains(v, "sda3") {
							t.Errorf("%s: header %s leaks %q", r.name, k, v)
						}
					}
				}
			}
			resp, b = send(t, "GET", base+"/readyz", nil, nil)
			if resp.StatusCode != 503 || strings.Contains(string(b), "sda3") {
				t.Errorf("readyz: %d %s", resp.StatusCode, b)
			}
			if !strings.Contains(logs.String(), "sda3") {
				t.Errorf("the operator's log lacks the internal error:\n%s", logs.String())
			}
		})
	}
}

// TestPartHeadersDoNotHoldMemory: a multipart part header of 9 MB (which
// mime/multipart would read whole) is cut off after the framing budget of
// 1 MiB.
func TestPartHeadersDoNotHoldMemory(t *testing.T) {
	e := newEnv(t)
	body := "--B\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: " + strings.Repeat("a", 9<<20) + "\r\n\r\nv\r\n--B--\r\n"
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	resp, b := e.do("POST", "/"+privateChan, alice, strings.NewReader(body), http.Header{"Content-Type": {"multipart/form-data; boundary=B"}})
	close(stop)
	<-sampled
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	// The body (9 MB) was built before the baseline was read, so it is
	// not part of the growth; the client streams it without a copy.
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("a %d MB part header grew the heap by %.1f MB at its peak", len(body)>>20, float64(growth)/(1<<20))
	if growth > 8<<20 {
		t.Fatalf("one crafted part header grew the heap by %d MB", growth>>20)
	}
}

// stallingConfirmer holds every confirmation of one transaction id until
// released, as a user's client that never answers does (for up to the
// reply timeout, 30 s by default); others go to next.
type stallingConfirmer struct {
	next    auth.Confirmer
	tid     string
	waiting chan struct{} // one value per stalled confirmation
	release chan struct{}
}

func (c *stallingConfirmer) Confirm(ctx context.Context, req auth.ConfirmRequest) error {
	if req.TransactionID != c.tid {
		return c.next.Confirm(ctx, req)
	}
	c.waiting <- struct{}{}
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	return auth.ErrDenied
}

// TestUnconfirmedUploadsHoldNoSlots: uploads whose confirmation is still
// outstanding (anyone can send them, naming any publisher) do not take the
// upload slots from confirmed users.
func TestUnconfirmedUploadsHoldNoSlots(t *testing.T) {
	channels, confirm := newFixtureAuth()
	stall := &stallingConfirmer{next: confirm, tid: "tid-never-answered", waiting: make(chan struct{}, 8), release: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.MaxConcurrentUploads = 2
	srv := serverWith(t, t.TempDir(), cfg, stackOptions{auth: &auth.Guard{Channels: channels, Confirmer: stall}})
	base := loggedServer(t, srv)
	post := func(authz string) chan int {
		done := make(chan int, 1)
		go func() {
			body, ct := multipartBody(t, part{name: "data", file: []byte("x"), fileName: "x.txt"}, part{name: "content-type", value: "text/plain"})
			req, _ := http.NewRequest("POST", base+"/"+privateChan, body)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", authz)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		return done
	}
	defer close(stall.release)
	var stalled []chan int
	for i := 0; i < cfg.MaxConcurrentUploads+2; i++ {
		c := post(basic(bob + "/phone:tid-never-answered"))
		stalled = append(stalled, c)
		select {
		case <-stall.waiting:
		case status := <-c:
			t.Fatalf("unconfirmed upload %d answered %d before its confirmation", i+1, status)
		case <-time.After(10 * time.Second):
			t.Fatal("no confirmation asked within 10 s")
		}
	}
	select {
	case status := <-post("Basic " + cred(alice)):
		if status != http.StatusCreated {
			t.Errorf("a confirmed upload while unconfirmed ones wait: %d, want 201", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("confirmed upload not answered within 10 s")
	}
}
