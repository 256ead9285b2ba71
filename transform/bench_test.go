package transform

import (
	"bytes"
	"image/jpeg"
	"os"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
	"github.com/xmppmedia/mediaserver/transform/jpegscale"
)

// In-process benchmarks of the steps; the whole-process comparison with
// vipsthumbnail is transform/internal/previewbench (docs/previews.md).
//
//	go test ./transform -run '^$' -bench . -benchtime 10x

func photoJPEG(b *testing.B, w, h int) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testimage.Photo(w, h, 1), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

var deviceBoxes = []Box{{240, 320}, {320, 480}}

func BenchmarkPreviews12MP(b *testing.B) {
	data := photoJPEG(b, 4000, 3000)
	tr, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Previews(bytes.NewReader(data), int64(len(data)), deviceBoxes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreviewsProgressive800x600(b *testing.B) {
	data, err := os.ReadFile("testdata/progressive800x600.jpg")
	if err != nil {
		b.Fatal(err)
	}
	tr, _ := New(DefaultConfig())
	for range b.N {
		if _, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{{60, 60}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode12MP compares image/jpeg's full decode with jpegscale.
func BenchmarkDecode12MP(b *testing.B) {
	data := photoJPEG(b, 4000, 3000)
	b.Run("image/jpeg full", func(b *testing.B) {
		for range b.N {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range []int{2, 4, 8} {
		b.Run("jpegscale 1/"+string(rune('0'+s)), func(b *testing.B) {
			for range b.N {
				d, err := jpegscale.NewDecoder(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Decode(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
