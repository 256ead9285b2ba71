// Package metadatatest is the conformance suite of storage.Metadata: every
// implementation runs Run against a real instance of itself.
//
// Beyond the interface's doc comments the suite pins down these choices
// (made by storage/sqlstore, which both SQL stores share):
//   - a pending item is missing for Get, List, Update, Delete, PutPreview
//     and Previews;
//   - Pending compares against the Uploaded time given to Begin;
//   - Commit stores the fields it is given, its asAvatar deciding Avatar,
//     and an Updated left zero becomes Uploaded;
//   - Get finds the avatar item, List never shows it;
//   - Page.Max <= 0 means no limit;
//   - Previews of a missing item is ErrNotFound;
//   - times come back in UTC, equal to what was stored to the millisecond
//     or better.
package metadatatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/storage"
)

// Run runs the suite. newStore returns an empty store and arranges for it
// to be closed (t.Cleanup); it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) storage.Metadata) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Metadata)
	}{
		{"CommitRoundTrip", testCommitRoundTrip},
		{"PendingInvisible", testPendingInvisible},
		{"BeginConflict", testBeginConflict},
		{"CommitMissing", testCommitMissing},
		{"Abort", testAbort},
		{"PendingBefore", testPendingBefore},
		{"Avatar", testAvatar},
		{"ListPaging", testListPaging},
		{"ListAfterErrors", testListAfterErrors},
		{"EntityIsolation", testEntityIsolation},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"PutPreview", testPutPreview},
		{"Unicode", testUnicode},
		{"Times", testTimes},
		{"ConcurrentCommits", testConcurrentCommits},
		{"ConcurrentAvatars", testConcurrentAvatars},
		{"ContextCancelled", testContextCancelled},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// base is the time the suite's items are uploaded around: in the past, so
// that Pending(time.Now()) sees everything begun by the suite.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// item returns a media item with every field set, so a field lost or
// swapped by a store shows up.
func item(entity, id string, updated time.Time) storage.Media {
	return storage.Media{
		ID:          id,
		Entity:      entity,
		Author:      "author@example.org",
		FileName:    id + ".jpg",
		Title:       "title of " + id,
		Description: "description of " + id,
		MimeType:    "image/jpeg",
		Extension:   "jpg",
		SHA1:        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		Size:        123456,
		Width:       640,
		Height:      480,
		LengthMS:    1500,
		Uploaded:    updated,
		Updated:     updated,
		BlobKey:     "media/" + id,
		Placeholder: "1QcSHQRnh493V4dIh4eXh1h4kJUI",
	}
}

func preview(m storage.Media, w, h int) storage.Preview {
	return storage.Preview{
		MediaID:  m.ID,
		Entity:   m.Entity,
		Width:    w,
		Height:   h,
		MimeType: "image/jpeg",
		Size:     int64(w * h / 10),
		BlobKey:  fmt.Sprintf("preview/%s/%dx%d", m.ID, w, h),
		Created:  m.Uploaded.Add(time.Second),
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// commit begins and commits m.
func commit(t *testing.T, s storage.Metadata, m storage.Media, asAvatar bool) (*storage.Media, []storage.Preview) {
	t.Helper()
	ctx := ctxOf(t)
	if err := s.Begin(ctx, m); err != nil {
		t.Fatalf("Begin(%s/%s): %v", m.Entity, m.ID, err)
	}
	prev, previews, err := s.Commit(ctx, m, asAvatar)
	if err != nil {
		t.Fatalf("Commit(%s/%s): %v", m.Entity, m.ID, err)
	}
	return prev, previews
}

func putPreview(t *testing.T, s storage.Metadata, p storage.Preview) {
	t.Helper()
	if err := s.PutPreview(ctxOf(t), p); err != nil {
		t.Fatalf("PutPreview(%s %dx%d): %v", p.MediaID, p.Width, p.Height, err)
	}
}

// sameMedia reports the fields where got differs from want; times compare
// as instants to the millisecond, and must come back in UTC.
func sameMedia(t *testing.T, what string, got, want storage.Media) {
	t.Helper()
	checkTime(t, what+" Uploaded", got.Uploaded, want.Uploaded)
	checkTime(t, what+" Updated", got.Updated, want.Updated)
	got.Uploaded, got.Updated, want.Uploaded, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func samePreviews(t *testing.T, what string, got, want []storage.Preview) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d previews %+v, want %d %+v", what, len(got), got, len(want), want)
	}
	for i := range got {
		checkTime(t, fmt.Sprintf("%s[%d] Created", what, i), got[i].Created, want[i].Created)
		g, w := got[i], want[i]
		g.Created, w.Created = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s[%d]:\n got  %+v\n want %+v", what, i, g, w)
		}
	}
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %v, want it in UTC", what, got)
	}
	if d := got.Sub(want); d >= time.Millisecond || d <= -time.Millisecond {
		t.Errorf("%s = %v, want %v (off by %v)", what, got, want, d)
	}
}

func ids(ms []storage.Media) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func testCommitRoundTrip(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("chan@example.org", "aaaaaaaaaaaaaaaaaaa1", at(0))
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	// The final fields arrive at Commit: size, checksum and dimensions
	// are only known once the blob is stored.
	final := m
	final.Size, final.SHA1, final.Width, final.Height, final.LengthMS = 999, "0123456789abcdef0123456789abcdef01234567", 1024, 768, 0
	final.BlobKey = "media/final"
	// The placeholder too: it is computed with the previews.
	final.Placeholder = "YQgGFYJvl2dpVZeFlyZ3dRh3QGP4"
	prev, previews, err := s.Commit(ctx, final, false)
	if err != nil {
		t.Fatal(err)
	}
	if prev != nil || previews != nil {
		t.Errorf("Commit as non-avatar returned previous %v, %v", prev, previews)
	}
	got, err := s.Get(ctx, m.Entity, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMedia(t, "Get", got, final)

	list, err := s.List(ctx, m.Entity, storage.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("List = %v, want the one item", ids(list))
	}
	sameMedia(t, "List[0]", list[0], final)

	// An Updated left zero becomes Uploaded.
	z := item(m.Entity, "zeroupdated", at(5))
	z.Updated = time.Time{}
	commit(t, s, z, false)
	got, err = s.Get(ctx, z.Entity, z.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "Updated of an item committed without one", got.Updated, z.Uploaded)

	// An item without a placeholder (not an image) has none, not another's.
	np := item(m.Entity, "noplaceholder", at(7))
	np.Placeholder = ""
	commit(t, s, np, false)
	if got, err := s.Get(ctx, np.Entity, np.ID); err != nil || got.Placeholder != "" {
		t.Errorf("Get of an item committed without a placeholder: %q, %v", got.Placeholder, err)
	}

	// An item begun as an avatar but committed as an ordinary item is an
	// ordinary item: asAvatar decides.
	a := item(m.Entity, "begunasavatar", at(6))
	a.Avatar = true
	commit(t, s, a, false)
	if got, err := s.Get(ctx, a.Entity, a.ID); err != nil || got.Avatar {
		t.Errorf("Get(item committed with asAvatar=false) = Avatar %v, %v; want false", got.Avatar, err)
	}
	if _, err := s.Avatar(ctx, a.Entity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Avatar after a non-avatar commit: %v, want ErrNotFound", err)
	}
}

func testPendingInvisible(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("chan@example.org", "pendingitem", at(0))
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, m.Entity, m.ID); return err }},
		{"Update", func() error {
			title := "x"
			_, err := s.Update(ctx, m.Entity, m.ID, storage.Changes{Title: &title}, at(10))
			return err
		}},
		{"Delete", func() error { _, _, err := s.Delete(ctx, m.Entity, m.ID); return err }},
		{"PutPreview", func() error { return s.PutPreview(ctx, preview(m, 100, 100)) }},
		{"Previews", func() error { _, err := s.Previews(ctx, m.Entity, m.ID); return err }},
		{"List after", func() error { _, err := s.List(ctx, m.Entity, storage.Page{After: m.ID}); return err }},
	}
	for _, c := range checks {
		wantErr(t, c.name+" of a pending item", c.call(), storage.ErrNotFound)
	}
	list, err := s.List(ctx, m.Entity, storage.Page{})
	if err != nil || len(list) != 0 {
		t.Errorf("List with only a pending item = %v, %v; want empty", ids(list), err)
	}
	pending, err := s.Pending(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("Pending = %v, want the begun item", ids(pending))
	}
	sameMedia(t, "Pending[0]", pending[0], m)

	if _, _, err := s.Commit(ctx, m, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, m.Entity, m.ID); err != nil {
		t.Errorf("Get after Commit: %v", err)
	}
	pending, err = s.Pending(ctx, time.Now())
	if err != nil || len(pending) != 0 {
		t.Errorf("Pending after Commit = %v, %v; want none", ids(pending), err)
	}
}

func testBeginConflict(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("chan@example.org", "dup", at(0))
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Begin of a pending (entity, id)", s.Begin(ctx, m), storage.ErrConflict)
	if _, _, err := s.Commit(ctx, m, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Begin of a visible (entity, id)", s.Begin(ctx, m), storage.ErrConflict)

	// The same id under another entity is another item.
	other := item("other@example.org", m.ID, at(1))
	commit(t, s, other, false)
	got, err := s.Get(ctx, m.Entity, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMedia(t, "first entity's item", got, m)
}

func testCommitMissing(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("chan@example.org", "nobegin", at(0))
	_, _, err := s.Commit(ctx, m, false)
	wantErr(t, "Commit without Begin", err, storage.ErrNotFound)
	_, _, err = s.Commit(ctx, m, true)
	wantErr(t, "Commit as avatar without Begin", err, storage.ErrNotFound)

	commit(t, s, m, false)
	_, _, err = s.Commit(ctx, m, false)
	wantErr(t, "second Commit", err, storage.ErrNotFound)

	// A failed avatar commit must not remove the current avatar.
	av := item(m.Entity, "avatar1", at(1))
	commit(t, s, av, true)
	_, _, err = s.Commit(ctx, item(m.Entity, "nobegin2", at(2)), true)
	wantErr(t, "Commit as avatar without Begin", err, storage.ErrNotFound)
	if got, err := s.Avatar(ctx, m.Entity); err != nil || got.ID != av.ID {
		t.Errorf("Avatar after a failed avatar commit = %q, %v; want %q", got.ID, err, av.ID)
	}
}

func testAbort(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("chan@example.org", "aborted", at(0))
	if err := s.Begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(ctx, m.Entity, m.ID); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending(ctx, time.Now())
	if err != nil || len(pending) != 0 {
		t.Errorf("Pending after Abort = %v, %v; want none", ids(pending), err)
	}
	_, _, err = s.Commit(ctx, m, false)
	wantErr(t, "Commit after Abort", err, storage.ErrNotFound)
	if err := s.Abort(ctx, m.Entity, "neverbegun"); err != nil {
		t.Errorf("Abort of a missing item: %v, want nil", err)
	}
	// The id is free again.
	commit(t, s, m, false)
	// Abort forgets intents only: a visible item stays.
	if err := s.Abort(ctx, m.Entity, m.ID); err != nil {
		t.Errorf("Abort of a visible item: %v", err)
	}
	if _, err := s.Get(ctx, m.Entity, m.ID); err != nil {
		t.Errorf("Get after Abort of a visible item: %v", err)
	}
}

func testPendingBefore(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	// Begun out of order, so that Pending must sort by begin time.
	for _, p := range []struct {
		id  string
		sec int
	}{{"p3", 30}, {"p1", 10}, {"p2", 20}} {
		m := item("chan@example.org", p.id, at(p.sec))
		if err := s.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	other := item("other@example.org", "p0", at(5))
	if err := s.Begin(ctx, other); err != nil {
		t.Fatal(err)
	}
	commit(t, s, item("chan@example.org", "visible", at(1)), false)

	tests := []struct {
		before time.Time
		want   []string
	}{
		{at(0), nil},
		{at(5), nil}, // strictly before
		{at(6), []string{"p0"}},
		{at(20), []string{"p0", "p1"}},
		{at(21), []string{"p0", "p1", "p2"}},
		{time.Now(), []string{"p0", "p1", "p2", "p3"}},
	}
	for _, tc := range tests {
		got, err := s.Pending(ctx, tc.before)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Pending(%v) = %v, want %v (oldest first)", tc.before, ids(got), tc.want)
		}
	}
}

func testAvatar(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	const ent = "chan@example.org"
	_, err := s.Avatar(ctx, ent)
	wantErr(t, "Avatar of an entity without one", err, storage.ErrNotFound)

	commit(t, s, item(ent, "listed", at(0)), false)
	first := item(ent, "avatarone", at(1))
	first.Avatar = true
	prev, previews := commit(t, s, first, true)
	if prev != nil || len(previews) != 0 {
		t.Errorf("first avatar commit returned previous %+v, %v", prev, previews)
	}
	got, err := s.Avatar(ctx, ent)
	if err != nil {
		t.Fatal(err)
	}
	sameMedia(t, "Avatar", got, first)
	if got, err := s.Get(ctx, ent, first.ID); err != nil || got.ID != first.ID {
		t.Errorf("Get(avatar) = %q, %v; want it found", got.ID, err)
	}
	p1, p2 := preview(first, 64, 64), preview(first, 32, 32)
	putPreview(t, s, p1)
	putPreview(t, s, p2)

	list, err := s.List(ctx, ent, storage.Page{})
	if err != nil || !slices.Equal(ids(list), []string{"listed"}) {
		t.Errorf("List with an avatar = %v, %v; want only the ordinary item", ids(list), err)
	}
	_, err = s.List(ctx, ent, storage.Page{After: first.ID})
	wantErr(t, "List after the avatar", err, storage.ErrNotFound)

	// Another entity's avatar is its own.
	otherAv := item("other@example.org", "otheravatar", at(2))
	commit(t, s, otherAv, true)

	second := item(ent, "avatartwo", at(3))
	second.Avatar = true
	prev, previews = commit(t, s, second, true)
	if prev == nil {
		t.Fatal("replacing the avatar returned no previous one")
	}
	sameMedia(t, "previous avatar", *prev, first)
	samePreviews(t, "previous avatar's previews", previews, []storage.Preview{p2, p1})

	got, err = s.Avatar(ctx, ent)
	if err != nil || got.ID != second.ID {
		t.Errorf("Avatar after replacement = %q, %v; want %q", got.ID, err, second.ID)
	}
	_, err = s.Get(ctx, ent, first.ID)
	wantErr(t, "Get of the replaced avatar", err, storage.ErrNotFound)
	_, err = s.Previews(ctx, ent, first.ID)
	wantErr(t, "Previews of the replaced avatar", err, storage.ErrNotFound)
	// Its id is free: the records really are gone.
	if err := s.Begin(ctx, first); err != nil {
		t.Errorf("Begin with the replaced avatar's id: %v", err)
	}
	if got, err := s.Avatar(ctx, "other@example.org"); err != nil || got.ID != otherAv.ID {
		t.Errorf("other entity's avatar = %q, %v; want %q", got.ID, err, otherAv.ID)
	}

	// Deleting the avatar leaves the entity without one.
	if _, _, err := s.Delete(ctx, ent, second.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Avatar(ctx, ent)
	wantErr(t, "Avatar after deleting it", err, storage.ErrNotFound)
}

// byNewest sorts like the store must: Updated descending, then ID
// descending bytewise.
func byNewest(ms []storage.Media) []string {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b storage.Media) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ids(s)
}

func testListPaging(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	const ent = "chan@example.org"
	// Mixed-case ids with equal timestamps: a locale-aware collation
	// ("a" < "B") would order them differently from bytes ("B" < "a").
	var all []storage.Media
	for i, id := range []string{"aaaa", "BBBB", "cccc", "DDDD", "eeee", "Zzzz", "0000", "zzzz", "AAAA", "bbbb"} {
		m := item(ent, id, at(i/3)) // three items per second
		all = append(all, m)
	}
	// Committed out of order so insertion order cannot pass for sorting.
	for _, i := range []int{4, 0, 9, 2, 7, 1, 8, 3, 6, 5} {
		commit(t, s, all[i], false)
	}
	commit(t, s, item("other@example.org", "ffff", at(1)), false)
	want := byNewest(all)

	got, err := s.List(ctx, ent, storage.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("List(all) = %v, want %v", ids(got), want)
	}
	for _, max := range []int{1, 2, 3, 4, 10, 11} {
		var paged []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatalf("Max=%d: paging does not end: %v", max, paged)
			}
			page, err := s.List(ctx, ent, storage.Page{Max: max, After: after})
			if err != nil {
				t.Fatalf("List(Max=%d, After=%q): %v", max, after, err)
			}
			if len(page) > max {
				t.Fatalf("List(Max=%d) returned %d items", max, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, ids(page)...)
			after = page[len(page)-1].ID
		}
		if !slices.Equal(paged, want) {
			t.Errorf("pages of %d = %v, want %v", max, paged, want)
		}
	}
	page, err := s.List(ctx, ent, storage.Page{After: want[len(want)-1]})
	if err != nil || len(page) != 0 {
		t.Errorf("List after the last item = %v, %v; want empty", ids(page), err)
	}
	page, err = s.List(ctx, "nobody@example.org", storage.Page{Max: 5})
	if err != nil || len(page) != 0 {
		t.Errorf("List of an entity without items = %v, %v; want empty", ids(page), err)
	}
}

func testListAfterErrors(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	commit(t, s, item("chan@example.org", "mine", at(0)), false)
	commit(t, s, item("other@example.org", "theirs", at(0)), false)
	for _, after := range []string{"unknown", "theirs", "MINE"} {
		_, err := s.List(ctx, "chan@example.org", storage.Page{Max: 10, After: after})
		wantErr(t, fmt.Sprintf("List(After=%q)", after), err, storage.ErrNotFound)
	}
}

func testEntityIsolation(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	m := item("alice@example.org", "aliceitem", at(0))
	commit(t, s, m, false)
	putPreview(t, s, preview(m, 10, 10))
	const bob = "bob@example.org"
	title := "stolen"
	checks := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, bob, m.ID); return err }},
		{"Update", func() error { _, err := s.Update(ctx, bob, m.ID, storage.Changes{Title: &title}, at(9)); return err }},
		{"Delete", func() error { _, _, err := s.Delete(ctx, bob, m.ID); return err }},
		{"Previews", func() error { _, err := s.Previews(ctx, bob, m.ID); return err }},
		{"PutPreview", func() error {
			p := preview(m, 20, 20)
			p.Entity = bob
			return s.PutPreview(ctx, p)
		}},
		{"Get with other case", func() error { _, err := s.Get(ctx, "ALICE@example.org", m.ID); return err }},
	}
	for _, c := range checks {
		wantErr(t, c.name+" under another entity", c.call(), storage.ErrNotFound)
	}
	if list, err := s.List(ctx, bob, storage.Page{}); err != nil || len(list) != 0 {
		t.Errorf("List(bob) = %v, %v; want empty", ids(list), err)
	}
	got, err := s.Get(ctx, m.Entity, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMedia(t, "alice's item after bob's attempts", got, m)
	if ps, err := s.Previews(ctx, m.Entity, m.ID); err != nil || len(ps) != 1 {
		t.Errorf("alice's previews = %v, %v; want the one", ps, err)
	}
}

func testUpdate(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	const ent = "chan@example.org"
	older := item(ent, "older", at(0))
	newer := item(ent, "newer", at(1))
	commit(t, s, older, false)
	commit(t, s, newer, false)

	str := func(s string) *string { return &s }
	tests := []struct {
		name    string
		changes storage.Changes
		apply   func(m *storage.Media)
	}{
		{"nothing", storage.Changes{}, func(*storage.Media) {}},
		{"title", storage.Changes{Title: str("new title ✓")}, func(m *storage.Media) { m.Title = "new title ✓" }},
		{"description", storage.Changes{Description: str("")}, func(m *storage.Media) { m.Description = "" }},
		{"file name", storage.Changes{FileName: str("renamed.jpg")}, func(m *storage.Media) { m.FileName = "renamed.jpg" }},
		{"all", storage.Changes{FileName: str("f"), Title: str("t"), Description: str("d")}, func(m *storage.Media) {
			m.FileName, m.Title, m.Description = "f", "t", "d"
		}},
	}
	want := older
	for i, tc := range tests {
		now := at(100 + i)
		got, err := s.Update(ctx, ent, older.ID, tc.changes, now)
		if err != nil {
			t.Fatalf("Update(%s): %v", tc.name, err)
		}
		tc.apply(&want)
		want.Updated = now
		sameMedia(t, "Update("+tc.name+")", got, want)
		stored, err := s.Get(ctx, ent, older.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameMedia(t, "Get after Update("+tc.name+")", stored, want)
	}
	// The updated item is now the newest.
	list, err := s.List(ctx, ent, storage.Page{})
	if err != nil || !slices.Equal(ids(list), []string{"older", "newer"}) {
		t.Errorf("List after Update = %v, %v; want the updated item first", ids(list), err)
	}
	_, err = s.Update(ctx, ent, "missing", storage.Changes{Title: str("x")}, at(200))
	wantErr(t, "Update of a missing item", err, storage.ErrNotFound)
}

func testDelete(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	const ent = "chan@example.org"
	m := item(ent, "doomed", at(0))
	keep := item(ent, "kept", at(1))
	commit(t, s, m, false)
	commit(t, s, keep, false)
	big, small, mid := preview(m, 640, 480), preview(m, 100, 100), preview(m, 320, 240)
	for _, p := range []storage.Preview{big, small, mid} {
		putPreview(t, s, p)
	}
	putPreview(t, s, preview(keep, 100, 100))

	got, previews, err := s.Delete(ctx, ent, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameMedia(t, "Delete", got, m)
	samePreviews(t, "Delete's previews", previews, []storage.Preview{small, mid, big})

	_, err = s.Get(ctx, ent, m.ID)
	wantErr(t, "Get after Delete", err, storage.ErrNotFound)
	_, err = s.Previews(ctx, ent, m.ID)
	wantErr(t, "Previews after Delete", err, storage.ErrNotFound)
	_, _, err = s.Delete(ctx, ent, m.ID)
	wantErr(t, "second Delete", err, storage.ErrNotFound)
	if list, err := s.List(ctx, ent, storage.Page{}); err != nil || !slices.Equal(ids(list), []string{"kept"}) {
		t.Errorf("List after Delete = %v, %v", ids(list), err)
	}
	if ps, err := s.Previews(ctx, ent, keep.ID); err != nil || len(ps) != 1 {
		t.Errorf("other item's previews after Delete = %v, %v; want untouched", ps, err)
	}
	// A re-upload under the same id starts without the old previews.
	commit(t, s, m, false)
	if ps, err := s.Previews(ctx, ent, m.ID); err != nil || len(ps) != 0 {
		t.Errorf("previews of a re-uploaded id = %v, %v; want none", ps, err)
	}
}

func testPutPreview(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	const ent = "chan@example.org"
	m := item(ent, "withpreviews", at(0))
	commit(t, s, m, false)

	// Wide and tall boxes of the same area keep a stable order.
	a, b, c := preview(m, 320, 480), preview(m, 240, 320), preview(m, 480, 320)
	for _, p := range []storage.Preview{a, b, c} {
		putPreview(t, s, p)
	}
	got, err := s.Previews(ctx, ent, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	samePreviews(t, "Previews", got, []storage.Preview{b, a, c})

	replaced := a
	replaced.MimeType, replaced.Size, replaced.BlobKey = "image/webp", 42, "preview/replaced"
	replaced.Created = a.Created.Add(time.Hour)
	putPreview(t, s, replaced)
	got, err = s.Previews(ctx, ent, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	samePreviews(t, "Previews after replacing one box", got, []storage.Preview{b, replaced, c})

	missing := preview(item(ent, "nosuchitem", at(0)), 10, 10)
	wantErr(t, "PutPreview of a missing item", s.PutPreview(ctx, missing), storage.ErrNotFound)
	_, err = s.Previews(ctx, ent, "nosuchitem")
	wantErr(t, "Previews of a missing item", err, storage.ErrNotFound)

	plain := item(ent, "nopreviews", at(1))
	commit(t, s, plain, false)
	if ps, err := s.Previews(ctx, ent, plain.ID); err != nil || len(ps) != 0 {
		t.Errorf("Previews of an item without any = %v, %v; want empty", ps, err)
	}
}

func testUnicode(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	texts := []string{
		"Ünïcødé ✓ 日本語のタイトル",
		"emoji 🎉👩‍👩‍👧 and a flag 🇩🇪",
		"עברית وعربي mixed direction",
		"combining e\u0301 vs \u00e9",
		`quotes ' " \ and ; DROP TABLE media; --`,
		"tab\tnew\nline",
		strings.Repeat("long ✓ ", 500),
	}
	const ent = "café-ünïcødé@example.org"
	for i, text := range texts {
		m := item(ent, fmt.Sprintf("unicode%02d", i), at(i))
		m.Title, m.Description, m.FileName = text, text+" (description)", text+".jpg"
		m.Author = "jürgen@example.org"
		commit(t, s, m, false)
		got, err := s.Get(ctx, ent, m.ID)
		if err != nil {
			t.Fatalf("Get(%q): %v", text, err)
		}
		sameMedia(t, fmt.Sprintf("item %d", i), got, m)
	}
	// The two spellings of é are different strings and stay so.
	if list, err := s.List(ctx, ent, storage.Page{}); err != nil || len(list) != len(texts) {
		t.Errorf("List(%s) = %d items, %v; want %d", ent, len(list), err, len(texts))
	}
	if list, err := s.List(ctx, "cafe\u0301-ünïcødé@example.org", storage.Page{}); err != nil || len(list) != 0 {
		t.Errorf("List under the decomposed spelling = %d items, %v; want none", len(list), err)
	}
}

func testTimes(t *testing.T, s storage.Metadata) {
	ctx := ctxOf(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	uploaded := time.Date(2025, 12, 31, 23, 59, 59, 123456789, zone)
	updated := time.Date(2026, 7, 1, 0, 0, 0, 987654321, zone)
	m := item("chan@example.org", "timed", uploaded)
	m.Updated = updated
	commit(t, s, m, false)
	got, err := s.Get(ctx, m.Entity, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "Uploaded", got.Uploaded, uploaded)
	checkTime(t, "Updated", got.Updated, updated)

	p := preview(m, 10, 10)
	p.Created = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, zone)
	putPreview(t, s, p)
	ps, err := s.Previews(ctx, m.Entity, m.ID)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Previews = %v, %v", ps, err)
	}
	checkTime(t, "Preview.Created", ps[0].Created, p.Created)

	now := time.Date(2026, 8, 1, 10, 11, 12, 13_000_000, zone)
	up, err := s.Update(ctx, m.Entity, m.ID, storage.Changes{}, now)
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "Updated after Update", up.Updated, now)

	// Timestamps a millisecond apart keep their order.
	a := item("ms@example.org", "first", base)
	b := item("ms@example.org", "second", base.Add(time.Millisecond))
	commit(t, s, b, false)
	commit(t, s, a, false)
	list, err := s.List(ctx, "ms@example.org", storage.Page{})
	if err != nil || !slices.Equal(ids(list), []string{"second", "first"}) {
		t.Errorf("List of items 1ms apart = %v, %v; want newest first", ids(list), err)
	}
}

func testConcurrentCommits(t *testing.T, s storage.Metadata) {
	const workers, perWorker = 8, 25
	ctx := ctxOf(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				m := item("busy@example.org", fmt.Sprintf("w%02di%03d", w, i), at(w*perWorker+i))
				if err := s.Begin(ctx, m); err != nil {
					errs <- err
					return
				}
				if _, _, err := s.Commit(ctx, m, false); err != nil {
					errs <- err
					return
				}
				if err := s.PutPreview(ctx, preview(m, 100, 100)); err != nil {
					errs <- err
					return
				}
				// Readers run beside the writers.
				if _, err := s.List(ctx, m.Entity, storage.Page{Max: 5}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.List(ctx, "busy@example.org", storage.Page{})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(list)
	slices.Sort(got)
	if len(slices.Compact(got)) != workers*perWorker {
		t.Errorf("after %d concurrent commits List has %d distinct items", workers*perWorker, len(got))
	}
}

func testConcurrentAvatars(t *testing.T, s storage.Metadata) {
	const n = 10
	const ent = "avatars@example.org"
	ctx := ctxOf(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var previous []string
	for i := range n {
		m := item(ent, fmt.Sprintf("avatar%02d", i), at(i))
		if err := s.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev, _, err := s.Commit(ctx, m, true)
			if err != nil {
				t.Errorf("Commit(%s as avatar): %v", m.ID, err)
				return
			}
			if prev != nil {
				mu.Lock()
				previous = append(previous, prev.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	cur, err := s.Avatar(ctx, ent)
	if err != nil {
		t.Fatal(err)
	}
	// Each replaced avatar was handed back exactly once, and the current
	// one never: no blob is leaked or removed twice.
	slices.Sort(previous)
	if len(previous) != n-1 || len(slices.Compact(slices.Clone(previous))) != n-1 || slices.Contains(previous, cur.ID) {
		t.Errorf("%d concurrent avatar commits returned previous %v with current %s; want the other %d once each",
			n, previous, cur.ID, n-1)
	}
	for _, id := range previous {
		if _, err := s.Get(ctx, ent, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("replaced avatar %s still found: %v", id, err)
		}
	}
}

func testContextCancelled(t *testing.T, s storage.Metadata) {
	m := item("chan@example.org", "ctx", at(0))
	commit(t, s, m, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, m.Entity, m.ID); err == nil {
		t.Error("Get with a cancelled context succeeded")
	}
	if err := s.Begin(ctx, item(m.Entity, "ctx2", at(1))); err == nil {
		t.Error("Begin with a cancelled context succeeded")
	}
	// Nothing was begun by the cancelled call.
	if ps, err := s.Pending(ctxOf(t), time.Now()); err != nil || len(ps) != 0 {
		t.Errorf("Pending after a cancelled Begin = %v, %v", ids(ps), err)
	}
}

func testPing(t *testing.T, s storage.Metadata) {
	if err := s.Ping(ctxOf(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
