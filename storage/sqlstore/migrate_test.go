package sqlstore_test

import (
	"testing"
	"testing/fstest"

	"github.com/xmppmedia/mediaserver/storage/sqlstore"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int // nil: an error is expected
	}{
		{"in order", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/README": file("x")}, []int{1, 2}},
		{"gap", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, nil},
		{"repeat", fstest.MapFS{"m/0001_a.sql": file("A"), "m/001_b.sql": file("B")}, nil},
		{"not starting at 1", fstest.MapFS{"m/0002_a.sql": file("A")}, nil},
		{"no number", fstest.MapFS{"m/init.sql": file("A")}, nil},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("A")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := sqlstore.LoadMigrations(tc.files, "m")
			if tc.versions == nil {
				if err == nil {
					t.Fatalf("LoadMigrations = %v, want an error", ms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != len(tc.versions) {
				t.Fatalf("got %d migrations, want %d", len(ms), len(tc.versions))
			}
			for i, m := range ms {
				if m.Version != tc.versions[i] || m.SQL == "" {
					t.Errorf("migration %d = %+v", i, m)
				}
			}
		})
	}
}
