package transform

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWebPColoursMatchLibvips previews x/image's lossy WebP test files and
// compares our preview and vipsthumbnail's (same box, same JPEG quality)
// with ImageMagick's (libwebp's decode, resized, written losslessly). Before
// the studio-range fix ours were 3 to 8 dB below libvips' (full-range
// reading of VP8's limited-range YCbCr).
func TestWebPColoursMatchLibvips(t *testing.T) {
	vipsthumbnail := tool(t, "vipsthumbnail", "libvips-tools")
	dir := xImageTestdata(t)
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	q := DefaultConfig().JPEGQuality
	files, err := filepath.Glob(filepath.Join(dir, "*lossy*.webp"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no lossy WebP files in %s (%v)", dir, err)
	}
	box := Box{100, 100}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{box})
			if err != nil {
				t.Fatal(err)
			}
			ours := decodeBytes(t, imgs[0].Data)
			vout := filepath.Join(t.TempDir(), "vips.jpg")
			run(t, vipsthumbnail, f, "-s", "100x100", "-o", vout+"[Q="+strconv.Itoa(q)+",background=255]")
			ref := magickPreview(t, f, box)
			ourPSNR, ourSSIM := similarity(t, ours, ref)
			vipsPSNR, vipsSSIM := similarity(t, loadImage(t, vout), ref)
			t.Logf("ours %.2f dB SSIM %.4f, vipsthumbnail %.2f dB SSIM %.4f", ourPSNR, ourSSIM, vipsPSNR, vipsSSIM)
			if ourPSNR < vipsPSNR-1 {
				t.Errorf("PSNR %.2f dB is more than 1 dB below libvips' %.2f dB", ourPSNR, vipsPSNR)
			}
		})
	}
}
