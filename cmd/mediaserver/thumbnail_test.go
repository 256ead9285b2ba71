package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

func TestThumbnailCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(in, testPhoto(t, 1600, 1200), 0o600); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"thumbnail", "--box", "240x320", "--box", "320x480", in, outDir}, os.Stdout, os.Stderr); err != nil {
		t.Fatalf("thumbnail: %v", err)
	}
	for _, tc := range []struct {
		file string
		w, h int
	}{{"240x320.jpg", 240, 180}, {"320x480.jpg", 320, 240}} {
		b, err := os.ReadFile(filepath.Join(outDir, tc.file))
		if err != nil {
			t.Fatalf("no %s: %v", tc.file, err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || format != "jpeg" || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("%s: %s %dx%d (%v), want jpeg %dx%d", tc.file, format, cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
	}
	// One box, one file; bad input is an error, not a crash.
	single := filepath.Join(dir, "one.jpg")
	if err := run([]string{"thumbnail", "--box", "100x100", in, single}, os.Stdout, os.Stderr); err != nil {
		t.Fatalf("single box: %v", err)
	}
	bad := filepath.Join(dir, "bad.jpg")
	os.WriteFile(bad, []byte("\xff\xd8\xffnot a jpeg"), 0o600)
	if err := run([]string{"thumbnail", "--box", "100x100", bad, filepath.Join(dir, "x.jpg")}, os.Stdout, os.Stderr); err == nil {
		t.Fatal("a corrupt input made a thumbnail")
	}
}
