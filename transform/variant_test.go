package transform

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestVariantContext(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "progressive800x600.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	box := Box{320, 480}
	for _, tt := range []struct {
		name       string
		v          Variant
		mime       string
		w, h       int
		maxBytes   int
		overBudget bool
	}{
		{"webp", Variant{WebP: true}, "image/webp", 320, 240, 0, false},
		{"budget 10000", Variant{MaxBytes: 10000}, "image/jpeg", 320, 240, 10000, false},
		// The WebP at the plain quality is about 14.6 KB (BenchmarkPreviewEncoders).
		{"webp and budget 20000: the WebP fits", Variant{WebP: true, MaxBytes: 20000}, "image/webp", 320, 240, 20000, false},
		{"webp and budget 10000: the WebP does not fit, a JPEG does", Variant{WebP: true, MaxBytes: 10000}, "image/jpeg", 320, 240, 10000, false},
		{"budget 1500: nothing fits", Variant{MaxBytes: 1500}, "", 0, 0, 0, true},
		{"budget 1500, best effort: the floors", Variant{MaxBytes: 1500, BestEffort: true}, "image/jpeg", 160, 120, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tr.VariantContext(context.Background(), bytes.NewReader(orig), int64(len(orig)), box, tt.v)
			if tt.overBudget {
				if !errors.Is(err, ErrOverBudget) {
					t.Fatalf("%v, want ErrOverBudget", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.UseOriginal || got.MimeType != tt.mime {
				t.Fatalf("%s (original %v), want %s", got.MimeType, got.UseOriginal, tt.mime)
			}
			if tt.maxBytes > 0 && len(got.Data) > tt.maxBytes {
				t.Errorf("%d bytes, budget %d", len(got.Data), tt.maxBytes)
			}
			// Decoded independently of the encoder: what it says it is, in
			// the box (a budget may shrink it, to no less than half).
			var w, h int
			if got.MimeType == "image/webp" {
				dec, err := decodeWebP(got.Data)
				if err != nil {
					t.Fatal(err)
				}
				w, h = dec.Bounds().Dx(), dec.Bounds().Dy()
			} else {
				dec, err := jpeg.Decode(bytes.NewReader(got.Data))
				if err != nil {
					t.Fatal(err)
				}
				w, h = dec.Bounds().Dx(), dec.Bounds().Dy()
			}
			if w != got.Width || h != got.Height || w > tt.w || h > tt.h || w < tt.w/2 || h < tt.h/2 {
				t.Errorf("decoded %dx%d (says %dx%d), want within %dx%d and at least half", w, h, got.Width, got.Height, tt.w, tt.h)
			}
			t.Logf("%s %dx%d, %d bytes", got.MimeType, w, h, len(got.Data))
		})
	}
}

// TestVariantWaitsForAWorker: the encoding runs under a worker slot, so
// with every slot taken a variant gives up with ErrBusy when its context
// ends, as PreviewsContext does.
func TestVariantWaitsForAWorker(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	release, err := tr.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	orig, err := os.ReadFile(filepath.Join("testdata", "progressive800x600.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.VariantContext(ctx, bytes.NewReader(orig), int64(len(orig)), Box{320, 480}, Variant{WebP: true}); !errors.Is(err, ErrBusy) {
		t.Errorf("%v, want ErrBusy", err)
	}
}
