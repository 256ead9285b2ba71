package xmppauth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/auth"
	"github.com/xmppmedia/mediaserver/auth/xmppclient"
)

// The decision table of API.md through auth.Guard with the real
// component, the real channel server and real users who accept every
// confirmation: who may do what in an open and a whitelist channel.
func TestGuardMatrix(t *testing.T) {
	ctx := testContext(t)
	type role struct {
		name string
		aff  auth.Affiliation // "" for none and self
		self bool
	}
	roles := []role{
		{"owner", auth.AffOwner, false},
		{"moderator", auth.AffModerator, false},
		{"publisher", auth.AffPublisher, false},
		{"member", auth.AffMember, false},
		{"none", "", false},
		{"outcast", auth.AffOutcast, false},
		{"self", "", true},
	}
	ops := []auth.Operation{auth.OpRead, auth.OpUpload, auth.OpAvatar, auth.OpUpdate, auth.OpDelete}
	// Written out rather than computed: this is what a user of each kind
	// expects to be able to do. Columns: read upload avatar update delete.
	// Update and delete are of an item someone else uploaded.
	const Y, N = true, false
	want := map[string]map[string][5]bool{
		"whitelist": {
			"owner":     {Y, Y, Y, Y, Y},
			"moderator": {Y, Y, Y, Y, Y},
			"publisher": {Y, Y, Y, N, N},
			"member":    {Y, N, N, N, N},
			"none":      {N, N, N, N, N},
			"outcast":   {N, N, N, N, N},
			"self":      {Y, Y, Y, Y, Y},
		},
		"open": { // reading is public; everything else as in whitelist
			"owner":     {Y, Y, Y, Y, Y},
			"moderator": {Y, Y, Y, Y, Y},
			"publisher": {Y, Y, Y, N, N},
			"member":    {Y, N, N, N, N},
			"none":      {Y, N, N, N, N},
			"outcast":   {Y, N, N, N, N},
			"self":      {Y, Y, Y, Y, Y},
		},
	}

	clients := map[string]*xmppclient.Client{}
	recs := map[string]*recorder{}
	for _, r := range roles {
		clients[r.name], recs[r.name] = newUser(t, stack.srv, "matrix-"+r.name, xmppclient.Accept)
	}
	guard := &auth.Guard{Channels: stack.configured, Confirmer: stack.configured}
	otherUploader := bare("someone-else@localhost")
	tid := 0
	for _, model := range []string{"open", "whitelist"} {
		channel := bare("matrix-" + model + "@localhost")
		affs := map[string]auth.Affiliation{}
		for _, r := range roles {
			if r.aff != "" {
				affs[clients[r.name].JID().Bare().String()] = r.aff
			}
		}
		if err := stack.srv.CreateChannel(ctx, channel, model, affs); err != nil {
			t.Fatal(err)
		}
		// The self user's own channel, with the same access model.
		if err := stack.srv.CreateChannel(ctx, clients["self"].JID().Bare(), model, nil); err != nil {
			t.Fatal(err)
		}
		for _, r := range roles {
			entity := channel
			if r.self {
				entity = clients[r.name].JID().Bare()
			}
			for i, op := range ops {
				t.Run(fmt.Sprintf("%s/%s/%s", model, r.name, op), func(t *testing.T) {
					tid++
					client, rec := clients[r.name], recs[r.name]
					before := len(rec.Asked())
					req := auth.Request{
						Op: op, Entity: entity, Method: "POST", URL: "https://media.example.test/" + entity.String(),
						Credentials: &auth.Credentials{JID: client.JID(), TransactionID: fmt.Sprintf("m%d", tid)},
					}
					if op == auth.OpUpdate || op == auth.OpDelete {
						req.Uploader = otherUploader
					}
					d, err := guard.Authorize(ctx, req)
					granted := want[model][r.name][i]
					if granted != (err == nil) {
						t.Fatalf("%s may %s in the %s channel: got %s, want granted=%v", r.name, op, model, errorName(err), granted)
					}
					public := model == "open" && op == auth.OpRead
					asked := len(rec.Asked()) - before
					switch {
					case !granted:
						if errorName(err) != auth.ErrDenied.Error() {
							t.Errorf("refused with %v, want ErrDenied", err)
						}
						if asked != 0 {
							t.Errorf("user was asked to confirm a request that is refused anyway")
						}
					case public:
						if !d.Public || asked != 0 {
							t.Errorf("public read: decision %+v, asked %d times; want public, no confirmation", d, asked)
						}
					default:
						// Public says the channel is open (its media may be
						// cached by shared caches), whatever the operation.
						if asked != 1 || !d.User.Equal(client.JID().Bare()) || d.Public != (model == "open") {
							t.Errorf("decision %+v after %d confirmations; want user %s, public=%v, 1 confirmation", d, asked, client.JID().Bare(), model == "open")
						}
					}
				})
			}
		}
		// The same auth value, another method: with the confirmation cache
		// in front, as in production, a confirmed read of the channel
		// covers further reads only; each write is asked about again.
		t.Run(model+"/the same auth value, another method", func(t *testing.T) {
			cached := &auth.Guard{Channels: stack.configured, Confirmer: auth.NewConfirmCache(stack.configured, time.Minute)}
			tid++
			client, rec := clients["owner"], recs["owner"]
			creds := &auth.Credentials{JID: client.JID(), TransactionID: fmt.Sprintf("same%d", tid)}
			steps := []struct {
				op        auth.Operation
				method    string
				wantAsked int // questions for this step
			}{
				{auth.OpRead, "GET", 1},
				{auth.OpRead, "HEAD", 0},
				{auth.OpUpload, "POST", 1},
				{auth.OpAvatar, "PUT", 1},
				{auth.OpUpdate, "POST", 1},
				{auth.OpDelete, "DELETE", 1},
				{auth.OpDelete, "DELETE", 1}, // writes are never remembered
				{auth.OpRead, "GET", 0},
			}
			if model == "open" {
				steps[0].wantAsked = 0 // public: no question, nothing remembered
			}
			for _, st := range steps {
				before := len(rec.Asked())
				_, err := cached.Authorize(ctx, auth.Request{Op: st.op, Entity: channel, Method: st.method, URL: "https://media.example.test/" + channel.String() + "/item", Credentials: creds, Uploader: otherUploader})
				if err != nil {
					t.Fatalf("%s %s: %v", st.method, st.op, err)
				}
				if asked := len(rec.Asked()) - before; asked != st.wantAsked {
					t.Errorf("%s %s with the auth value of a confirmed read: asked %d times, want %d", st.method, st.op, asked, st.wantAsked)
				}
			}
		})
		// Anonymous reads and the uploader's rights over their own item.
		t.Run(model+"/anonymous read", func(t *testing.T) {
			d, err := guard.Authorize(ctx, auth.Request{Op: auth.OpRead, Entity: channel})
			if model == "open" && (err != nil || !d.Public) {
				t.Errorf("anonymous read of open channel: %+v, %v", d, err)
			}
			if model != "open" && errorName(err) != auth.ErrNoCredentials.Error() {
				t.Errorf("anonymous read of %s channel: %v, want ErrNoCredentials", model, err)
			}
		})
		for _, tt := range []struct {
			role string
			want bool
		}{{"publisher", Y}, {"member", Y}, {"none", Y}, {"outcast", N}} {
			for _, op := range []auth.Operation{auth.OpUpdate, auth.OpDelete} {
				t.Run(fmt.Sprintf("%s/%s as uploader/%s", model, tt.role, op), func(t *testing.T) {
					tid++
					client := clients[tt.role]
					_, err := guard.Authorize(ctx, auth.Request{
						Op: op, Entity: channel, Method: "DELETE", URL: "https://m/x", Uploader: client.JID().Bare(),
						Credentials: &auth.Credentials{JID: client.JID(), TransactionID: fmt.Sprintf("u%d", tid)},
					})
					if (err == nil) != tt.want {
						t.Errorf("%s who uploaded the item may %s: got %s, want granted=%v", tt.role, op, errorName(err), tt.want)
					}
				})
			}
		}
	}
}
