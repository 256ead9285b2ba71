package mediasvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/localxmpp"
	"github.com/xmppmedia/mediaserver/auth/xmppauth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
	"github.com/xmppmedia/mediaserver/internal/ejabberdtest"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// apiMay is the decision table of API.md ("Permissions"), written out
// from the spec and not from package auth, so the matrices below test the
// server against it: public means the access model is open; aff is the
// user's affiliation as the channel server lists it ("" for none, and any
// the table does not name, such as ejabberd's publish-only, counts as
// none); self is the user whose bare JID names the channel ("always counts
// as theirs", that is, as its owner); uploader is the user who uploaded
// the item an update or delete is about.
func apiMay(op auth.Operation, public bool, aff string, self, uploader bool) bool {
	if self {
		aff = "owner"
	}
	switch op {
	case auth.OpRead:
		return public || slices.Contains([]string{"owner", "moderator", "publisher", "member"}, aff)
	case auth.OpUpload, auth.OpAvatar:
		return slices.Contains([]string{"owner", "moderator", "publisher"}, aff)
	case auth.OpUpdate, auth.OpDelete:
		return uploader || slices.Contains([]string{"owner", "moderator"}, aff)
	}
	panic(fmt.Sprintf("apiMay: operation %v", op))
}

// askedAbout counts the questions u was asked about entity's media (the
// URL names the channel), so rows on other channels do not count.
func (u *xmppUser) askedAbout(entity string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, q := range u.asked {
		if strings.Contains(q.URL, "/"+entity) {
			n++
		}
	}
	return n
}

// The decision matrix of API.md over HTTP against ejabberd's pubsub as the
// channel server, with the shipped ejabberd configuration: every route
// (list, GET, HEAD, Range, conditional GET, metadata, preview, avatar read,
// upload, avatar set, avatar delete, update, delete, and update and delete
// of one's own upload) × every affiliation ejabberd has (owner, publisher,
// publish-only, member, none, outcast), the channel's own user and an
// anonymous client × the access models open, whitelist and the three only
// ejabberd offers, authorize, presence and roster, which the API counts as
// private. Confirmations are answered by real clients logged in to
// ejabberd. Refused reads show nothing of the item; refused writes change
// nothing, as a member reading back finds. ejabberd has no moderator
// affiliation (it refuses to set one), so that row is Prosody's alone
// (TestXMPPMatrixOverHTTP).
func TestEjabberdMatrixOverHTTP(t *testing.T) {
	started := time.Now()
	example, err := os.ReadFile(filepath.Join("..", "configs", "ejabberd-mediaserver.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ej := ejabberdtest.Start(t, example)
	t.Cleanup(func() {
		if t.Failed() {
			log := ej.Log()
			t.Logf("ejabberd's log, its end:\n%s", log[max(0, len(log)-20000):])
		}
	})
	const media, channels = "media.example.com", "channels.example.com"
	secret, provisioners := ej.ComponentSecret(media), ej.ACLUsers("channel_provisioners")
	if secret == "" || len(provisioners) == 0 {
		t.Fatalf("the shipped ejabberd example lacks the component password or a provisioner")
	}
	e := newMediaEnv(t, xmppauth.Config{
		ComponentJID: media, Secret: secret, ServerAddr: ej.ComponentAddr(),
		ChannelServer: channels, ReplyTimeout: 10 * time.Second,
	}, ej, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	models := []string{"open", "whitelist", "authorize", "presence", "roster"}
	type role struct {
		name, aff string // aff as ejabberd spells it; "" for none
		self      bool
	}
	roles := []role{
		{"owner", "owner", false}, {"publisher", "publisher", false}, {"publish-only", "publish-only", false},
		{"member", "member", false}, {"none", "", false}, {"outcast", "outcast", false}, {"self", "", true},
	}
	locals := []string{"seeder", "auditor"}
	for _, r := range roles {
		if !r.self {
			locals = append(locals, "ej-"+r.name)
		}
	}
	for _, m := range models {
		locals = append(locals, "self-"+m)
	}
	provisioner := jid.MustParse(provisioners[0])
	users := e.usersOn(ej, provisioner, locals, xmppclient.Accept)
	seeder, auditor := users["seeder"], users["auditor"]
	t.Logf("ejabberd started and %d users registered in %s", len(locals)+1, time.Since(started).Round(time.Millisecond))

	prov, err := xmppclient.Dial(ctx, xmppclient.Config{Addr: ej.C2SAddr(), JID: provisioner, Password: provisioner.Localpart() + "-pw"}, nil)
	if err != nil {
		t.Fatalf("log in the provisioner: %v\n%s", err, ej.Log())
	}
	defer prov.Close()
	provIQ := func(payload string) error {
		return localxmpp.SetIQ(ctx, prov.Session(), jid.JID{}, jid.MustParse(channels), payload)
	}
	setAffs := func(node string, affs map[string]string) error {
		var b strings.Builder
		for j, a := range affs {
			b.WriteString(`<affiliation jid='` + j + `' affiliation='` + a + `'/>`)
		}
		return provIQ(`<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='` + node + `'>` + b.String() + `</affiliations></pubsub>`)
	}

	// The channels, made as the operations guide says: created by the
	// provisioner, with the media component among the owners.
	entityOf := func(model string, r role) string {
		if r.self {
			return users["self-"+model].bare().String()
		}
		return "ej-" + model + "@" + ej.Domain()
	}
	// unownedOf is a channel of model whose node does not list the media
	// component among its owners, against the operations guide.
	unownedOf := func(model string) string { return "unowned-" + model + "@" + ej.Domain() }
	create := func(entity, model string) {
		node := xmppauth.PostsNode(jid.MustParse(entity))
		if err := provIQ(`<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + node + `'/><configure>` +
			`<x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` +
			`<field var='pubsub#access_model'><value>` + model + `</value></field></x></configure></pubsub>`); err != nil {
			t.Fatalf("create %s (%s): %v\n%s", node, model, err, ej.Log())
		}
	}
	for _, model := range models {
		create(unownedOf(model), model)
		if err := setAffs(xmppauth.PostsNode(jid.MustParse(unownedOf(model))), map[string]string{
			seeder.bare().String(): "owner", auditor.bare().String(): "member",
		}); err != nil {
			t.Fatal(err)
		}
		for _, entity := range []string{entityOf(model, role{}), entityOf(model, role{self: true})} {
			create(entity, model)
			node := xmppauth.PostsNode(jid.MustParse(entity))
			affs := map[string]string{media: "owner", seeder.bare().String(): "owner", auditor.bare().String(): "member"}
			if entity == entityOf(model, role{}) {
				for _, r := range roles {
					if r.aff != "" {
						affs[users["ej-"+r.name].bare().String()] = r.aff
					}
				}
			}
			if err := setAffs(node, affs); err != nil {
				t.Fatalf("set affiliations of %s: %v\n%s", node, err, ej.Log())
			}
			// The server reads ejabberd's answers as they are meant: the
			// access model as configured and every affiliation set (the
			// provisioner, the node's creator, is an owner too).
			info, err := e.comp.Channel(ctx, jid.MustParse(entity))
			if err != nil {
				t.Fatalf("the media server's read of %s (%s): %v", entity, model, err)
			}
			affs[provisioner.String()] = "owner"
			got := map[string]string{}
			for j, a := range info.Affiliations {
				got[j] = string(a)
			}
			if info.AccessModel != model || !maps.Equal(got, affs) {
				t.Fatalf("the media server reads %s as %q %v; ejabberd was told %q %v", entity, info.AccessModel, got, model, affs)
			}
		}
	}
	// ejabberd has no moderator affiliation: should it gain one, the
	// matrix needs that row.
	var se stanza.Error
	if err := setAffs(xmppauth.PostsNode(jid.MustParse(entityOf("whitelist", role{}))), map[string]string{users["ej-none"].bare().String(): "moderator"}); !errors.As(err, &se) {
		t.Errorf("ejabberd's answer to setting a moderator: %v; want a refusal (else add a moderator row here)", err)
	}
	t.Logf("channels made and read back in %s", time.Since(started).Round(time.Millisecond))

	seederAvatar, userAvatar := pngOf(t, 8, 6), pngOf(t, 10, 4) // squares of 6 and 4 once cropped
	photo := tinyPNG(t)
	var cells atomic.Int64
	t.Run("models", func(t *testing.T) {
		for mi, model := range models {
			var rows []matrixRow
			for _, r := range roles {
				row := matrixRow{name: r.name, entity: entityOf(model, r), aff: r.aff, self: r.self}
				if r.self {
					row.user = users["self-"+model]
				} else {
					row.user = users["ej-"+r.name]
				}
				rows = append(rows, row)
			}
			rows = append(rows, matrixRow{name: "anonymous", entity: entityOf(model, role{})})
			t.Run(model, func(t *testing.T) {
				t.Parallel()
				m := &matrixModel{
					e: e, model: model, public: model == "open",
					// Each model's requests come from an address of its own:
					// questions are rate-bounded per user and address.
					client: clientFrom(fmt.Sprintf("127.0.0.%d", 10+mi)),
					seeder: seeder, auditor: auditor,
					seederAvatar: seederAvatar, userAvatar: userAvatar, photo: photo,
					auditTIDs: map[string]string{}, photos: map[string]storedPhoto{},
				}
				for _, row := range rows {
					t.Run(row.name, func(t *testing.T) { cells.Add(int64(m.run(t, row))) })
				}
			})
		}
	})

	// A channel whose affiliations the media server may not read: a
	// member's read and an owner's upload are 503 (API.md: channel-server
	// errors are 503, never a grant) on every private model; on an open
	// one reads need no affiliations and work.
	t.Run("unowned", func(t *testing.T) {
		m := &matrixModel{e: e, client: clientFrom("127.0.0.20"), auditor: auditor, auditTIDs: map[string]string{}}
		for _, model := range models {
			entity := unownedOf(model)
			want := http.StatusServiceUnavailable
			if model == "open" {
				want = http.StatusOK
			}
			if status, b := m.audit(t, "/"+entity, entity); status != want {
				t.Errorf("%s: a member's list: %d, want %d (%s)", model, status, want, b)
			}
			body, ct := multipartUpload(t, []byte("x"), "text/plain")
			if status, _, b := m.do(t, http.MethodPost, "/"+entity, seeder, e.newTID(), body, ct, nil); status != http.StatusServiceUnavailable {
				t.Errorf("%s: an owner's upload: %d, want 503 (%s)", model, status, b)
			}
			cells.Add(2)
		}
	})
	t.Logf("%d cells (%d access models × %d users × routes, and the unowned channels) in %s", cells.Load(), len(models), len(roles)+1, time.Since(started).Round(time.Millisecond))
}

// usersOn registers locals on ej (at once: ejabberdctl takes a second
// or more each) with provisioner, whose password is its localpart plus
// "-pw" like theirs, and logs locals in, answering every confirmation
// with answer.
func (e *xmppEnv) usersOn(ej *ejabberdtest.Server, provisioner jid.JID, locals []string, answer xmppclient.Answer) map[string]*xmppUser {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{provisioner.Localpart()}, locals...)
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, local := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = ej.Register(ctx, local, local+"-pw")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
	users := map[string]*xmppUser{}
	for _, local := range locals {
		u := &xmppUser{local: local, answer: answer}
		if err := e.login(ctx, u); err != nil {
			e.t.Fatalf("log in %s: %v", local, err)
		}
		users[local] = u
	}
	return users
}

// matrixRow is one user's row of TestEjabberdMatrixOverHTTP.
type matrixRow struct {
	name   string
	entity string    // the channel the row is about
	user   *xmppUser // nil: no credentials
	aff    string    // the user's affiliation as ejabberd spells it
	self   bool      // entity is the user's own bare JID
}

type storedPhoto struct{ id, etag string }

// matrixModel runs the rows of one access model; its channels are seeded
// by seeder (an owner) and read back by auditor (a member), through client.
type matrixModel struct {
	e                               *xmppEnv
	model                           string
	public                          bool
	client                          *http.Client
	seeder, auditor                 *xmppUser
	seederAvatar, userAvatar, photo []byte
	auditTIDs                       map[string]string // per channel: the auditor's reads are asked once
	photos                          map[string]storedPhoto
}

func (m *matrixModel) do(t *testing.T, method, path string, u *xmppUser, tid string, body io.Reader, contentType string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	return m.e.requestVia(t, m.client, method, path, u, tid, body, contentType, header)
}

// seed uploads data as the seeder and returns the new item's id.
func (m *matrixModel) seed(t *testing.T, entity string, data []byte, contentType string) string {
	t.Helper()
	body, ct := multipartUpload(t, data, contentType)
	status, _, b := m.do(t, http.MethodPost, "/"+entity, m.seeder, m.e.newTID(), body, ct, nil)
	var item struct {
		ID string `json:"id"`
	}
	if status != http.StatusCreated || json.Unmarshal(b, &item) != nil || item.ID == "" {
		t.Fatalf("the seeder's upload to %s: %d %s", entity, status, b)
	}
	return item.ID
}

// avatarSide is the side of entity's current avatar, read as anyone may
// (avatars are public by default); 0 when there is none.
func (m *matrixModel) avatarSide(t *testing.T, entity string) int {
	status, _, b := m.do(t, http.MethodGet, "/"+entity+"/avatar", nil, "", nil, "", nil)
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if status != http.StatusOK || err != nil || cfg.Width != cfg.Height {
		return 0
	}
	return cfg.Width
}

// audit is a read by the auditor, a member of every channel.
func (m *matrixModel) audit(t *testing.T, path, entity string) (int, []byte) {
	if m.auditTIDs[entity] == "" {
		m.auditTIDs[entity] = m.e.newTID()
	}
	status, _, b := m.do(t, http.MethodGet, path, m.auditor, m.auditTIDs[entity], nil, "", nil)
	return status, b
}

// listed is how many items the auditor finds in entity.
func (m *matrixModel) listed(t *testing.T, entity string) int {
	status, b := m.audit(t, "/"+entity, entity)
	var items []json.RawMessage
	if status != http.StatusOK || json.Unmarshal(b, &items) != nil {
		t.Fatalf("the auditor's list of %s: %d %s", entity, status, b)
	}
	return len(items)
}

// run runs row's cells and returns how many.
func (m *matrixModel) run(t *testing.T, row matrixRow) int {
	e, u, entity := m.e, row.user, row.entity
	cells := 0
	// What this row reads and changes, put there by the seeder: an item,
	// a photo (made once per channel: nothing changes it) and the
	// channel's avatar (set again when a row before changed it).
	secretText := "secret of " + entity + " for " + row.name
	item := m.seed(t, entity, []byte(secretText), "text/plain")
	p, ok := m.photos[entity]
	if !ok {
		p.id = m.seed(t, entity, m.photo, "image/png")
		status, h, b := m.do(t, http.MethodGet, "/"+entity+"/"+p.id, m.seeder, e.newTID(), nil, "", nil)
		if p.etag = h.Get("ETag"); status != http.StatusOK || p.etag == "" {
			t.Fatalf("the seeder's read of the photo: %d, ETag %q (%s)", status, p.etag, b)
		}
		m.photos[entity] = p
	}
	if m.avatarSide(t, entity) != 6 {
		body, ct := multipartUpload(t, m.seederAvatar, "image/png")
		if status, _, b := m.do(t, http.MethodPut, "/"+entity+"/avatar", m.seeder, e.newTID(), body, ct, nil); status != http.StatusCreated {
			t.Fatalf("the seeder's avatar: %d %s", status, b)
		}
	}
	itemsBefore := m.listed(t, entity)

	may := func(op auth.Operation, uploader bool) bool {
		return u != nil && apiMay(op, m.public, row.aff, row.self, uploader) || u == nil && op == auth.OpRead && m.public
	}
	refused := http.StatusForbidden
	if u == nil {
		refused = http.StatusUnauthorized
	}
	tid := e.newTID() // one auth value for the whole row
	type cell struct {
		name     string
		op       auth.Operation
		uploader bool
		ok       int
		send     func() (int, http.Header, []byte)
		// unchanged checks, after a refusal, that nothing changed.
		unchanged func()
	}
	get := func(path string, header http.Header) func() (int, http.Header, []byte) {
		return func() (int, http.Header, []byte) { return m.do(t, http.MethodGet, path, u, tid, nil, "", header) }
	}
	itemPath, photoPath := "/"+entity+"/"+item, "/"+entity+"/"+p.id
	asked := func() int {
		if u == nil {
			return 0
		}
		return u.askedAbout(entity)
	}

	reads := []cell{
		{name: "list", ok: http.StatusOK, send: get("/"+entity, nil)},
		{name: "GET", ok: http.StatusOK, send: get(itemPath, nil)},
		{name: "HEAD", ok: http.StatusOK, send: func() (int, http.Header, []byte) {
			return m.do(t, http.MethodHead, itemPath, u, tid, nil, "", nil)
		}},
		{name: "Range", ok: http.StatusPartialContent, send: get(itemPath, http.Header{"Range": {"bytes=0-5"}})},
		{name: "conditional GET", ok: http.StatusNotModified, send: get(photoPath, http.Header{"If-None-Match": {p.etag}})},
		{name: "metadata", ok: http.StatusOK, send: get(itemPath+"/metadata", nil)},
		{name: "preview", ok: http.StatusOK, send: get(photoPath+"?maxwidth=4", nil)},
	}
	before := asked()
	for _, c := range reads {
		cells++
		want := refused
		if may(auth.OpRead, false) {
			want = c.ok
		}
		status, h, b := c.send()
		if status != want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, want, b)
		}
		if status == http.StatusForbidden || status == http.StatusUnauthorized {
			// A refusal tells nothing of the item: no validator, size,
			// name or byte of it, nor that it exists.
			for _, k := range []string{"ETag", "Last-Modified", "Content-Range", "Content-Disposition"} {
				if v := h.Get(k); v != "" {
					t.Errorf("%s refused with %s: %q", c.name, k, v)
				}
			}
			for _, leak := range []string{secretText, item, p.id, "\x89PNG", "fileName", "contentType"} {
				if bytes.Contains(b, []byte(leak)) {
					t.Errorf("%s refused with a body that shows %q: %s", c.name, leak, b)
				}
			}
		}
	}
	// The first read of a private channel is asked about, once, and
	// covers the others; nothing is asked that will be refused anyway,
	// nor of an open channel.
	want := 0
	if u != nil && !m.public && may(auth.OpRead, false) {
		want = 1
	}
	if n := asked() - before; n != want {
		t.Errorf("reads: the user was asked %d times, want %d", n, want)
	}
	// The avatar is public (the default of API.md's avatar choice): read
	// by anyone, asked about never.
	cells++
	before = asked()
	status, _, b := m.do(t, http.MethodGet, "/"+entity+"/avatar", u, tid, nil, "", nil)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); status != http.StatusOK || err != nil || cfg.Width != 6 || cfg.Height != 6 {
		t.Errorf("avatar read: %d, %v %dx%d; want 200 and the seeder's 6x6 avatar", status, err, cfg.Width, cfg.Height)
	}
	if n := asked() - before; n != 0 {
		t.Errorf("avatar read: the user was asked %d times, want 0", n)
	}

	var own string // the user's own upload, once made
	writes := []cell{
		{name: "upload", op: auth.OpUpload, ok: http.StatusCreated, send: func() (int, http.Header, []byte) {
			body, ct := multipartUpload(t, []byte("by "+row.name), "text/plain")
			status, h, b := m.do(t, http.MethodPost, "/"+entity, u, tid, body, ct, nil)
			var it struct {
				ID string `json:"id"`
			}
			if status == http.StatusCreated && json.Unmarshal(b, &it) == nil {
				own = it.ID
			}
			return status, h, b
		}, unchanged: func() {
			if n := m.listed(t, entity); n != itemsBefore {
				t.Errorf("after a refused upload the channel lists %d items, want %d as before", n, itemsBefore)
			}
		}},
		{name: "avatar set", op: auth.OpAvatar, ok: http.StatusCreated, send: func() (int, http.Header, []byte) {
			body, ct := multipartUpload(t, m.userAvatar, "image/png")
			status, h, b := m.do(t, http.MethodPut, "/"+entity+"/avatar", u, tid, body, ct, nil)
			if side := m.avatarSide(t, entity); status == http.StatusCreated && side != 4 {
				t.Errorf("after the avatar was set, its side is %d, want 4", side)
			}
			return status, h, b
		}, unchanged: func() {
			if side := m.avatarSide(t, entity); side != 6 {
				t.Errorf("after a refused avatar set, the avatar's side is %d, want the seeder's 6", side)
			}
		}},
		// The avatar is the user's own once they set it.
		{name: "avatar delete", op: auth.OpDelete, uploader: may(auth.OpAvatar, false), ok: http.StatusOK, send: func() (int, http.Header, []byte) {
			return m.do(t, http.MethodDelete, "/"+entity+"/avatar", u, tid, nil, "", nil)
		}, unchanged: func() {
			if side := m.avatarSide(t, entity); side == 0 {
				t.Error("after a refused avatar delete there is no avatar")
			}
		}},
		{name: "update", op: auth.OpUpdate, ok: http.StatusOK, send: func() (int, http.Header, []byte) {
			form := url.Values{"title": {"changed by " + row.name}}.Encode()
			return m.do(t, http.MethodPost, itemPath, u, tid, strings.NewReader(form), "application/x-www-form-urlencoded", nil)
		}, unchanged: func() {
			status, b := m.audit(t, itemPath+"/metadata", entity)
			var meta struct {
				Title string `json:"title"`
			}
			if status != http.StatusOK || json.Unmarshal(b, &meta) != nil || meta.Title != "" {
				t.Errorf("after a refused update, the item's metadata: %d %s; want 200, no title", status, b)
			}
		}},
		{name: "delete", op: auth.OpDelete, ok: http.StatusOK, send: func() (int, http.Header, []byte) {
			return m.do(t, http.MethodDelete, itemPath, u, tid, nil, "", nil)
		}, unchanged: func() {
			if status, b := m.audit(t, itemPath, entity); status != http.StatusOK || string(b) != secretText {
				t.Errorf("after a refused delete, the item: %d %q; want 200 and its bytes", status, b)
			}
		}},
	}
	if may(auth.OpUpload, false) {
		// What the user uploaded is theirs to change and delete.
		ownPath := func() string { return "/" + entity + "/" + own }
		writes = append(writes,
			cell{name: "update own upload", op: auth.OpUpdate, uploader: true, ok: http.StatusOK, send: func() (int, http.Header, []byte) {
				form := url.Values{"title": {"mine"}}.Encode()
				return m.do(t, http.MethodPost, ownPath(), u, tid, strings.NewReader(form), "application/x-www-form-urlencoded", nil)
			}},
			cell{name: "delete own upload", op: auth.OpDelete, uploader: true, ok: http.StatusOK, send: func() (int, http.Header, []byte) {
				return m.do(t, http.MethodDelete, ownPath(), u, tid, nil, "", nil)
			}},
		)
	}
	for _, c := range writes {
		cells++
		allowed := may(c.op, c.uploader)
		want := refused
		if allowed {
			want = c.ok
		}
		before := asked()
		status, _, b := c.send()
		if status != want {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, want, b)
		}
		// Each allowed write is asked about once; a refused one not at all.
		wantAsked := 0
		if allowed {
			wantAsked = 1
		}
		if n := asked() - before; n != wantAsked {
			t.Errorf("%s: the user was asked %d times, want %d", c.name, n, wantAsked)
		}
		if !allowed && c.unchanged != nil {
			c.unchanged()
		}
	}
	return cells
}
