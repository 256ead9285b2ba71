package transform

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/xmppmedia/mediaserver/transform/internal/quality"
)

// Helpers for the tests that check previews against independent tools
// (ImageMagick, libvips, libjpeg-turbo, libheif, libavif). scripts/test
// installs them; a developer without one gets a skip, CI gets a failure.

// tool returns the path of an external program, skipping the test when it
// is missing outside CI and failing it in CI.
func tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (Debian %s) is not installed; scripts/test installs it", name, debianPackage)
	}
	t.Skipf("%s not installed (Debian %s)", name, debianPackage)
	return ""
}

// run runs a program and fails the test with its output when it fails.
func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out.Bytes()
}

// xImageTestdata is golang.org/x/image's testdata directory in the module
// cache (the module is a dependency, so `go test` has downloaded it).
func xImageTestdata(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Fatalf("locate golang.org/x/image: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

// goImageTestdata is the standard library's image/testdata.
func goImageTestdata() string { return filepath.Join(runtime.GOROOT(), "src", "image", "testdata") }

// magickPreview is ImageMagick's rendering of the preview of src for box:
// its own decoder, EXIF auto-orientation and its default resize filter,
// written losslessly.
func magickPreview(t testing.TB, src string, box Box) image.Image {
	t.Helper()
	convert := tool(t, "convert", "imagemagick")
	out := filepath.Join(t.TempDir(), "ref.png")
	// [0]: the first frame of an animation, as our previews show.
	run(t, convert, src+"[0]", "-auto-orient", "-colorspace", "sRGB", "-resize", fmt.Sprintf("%dx%d>", box.Width, box.Height), "-background", "white", "-flatten", "-depth", "8", out)
	return loadImage(t, out)
}

// loadImage decodes a PNG or JPEG file.
func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeBytes(t, data)
}

func decodeBytes(t testing.TB, data []byte) image.Image {
	t.Helper()
	var img image.Image
	var err error
	if bytes.HasPrefix(data, []byte("\x89PNG")) {
		img, err = png.Decode(bytes.NewReader(data))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// similarity compares a preview with a reference of the same size (off by
// at most one pixel of rounding per side, then resampled to the reference's
// size) and returns the PSNR of R, G and B together and the SSIM of the luma.
func similarity(t testing.TB, got, ref image.Image) (psnr, ssim float64) {
	t.Helper()
	gb, rb := got.Bounds(), ref.Bounds()
	if abs(gb.Dx()-rb.Dx()) > 1 || abs(gb.Dy()-rb.Dy()) > 1 {
		t.Fatalf("preview is %dx%d, reference %dx%d", gb.Dx(), gb.Dy(), rb.Dx(), rb.Dy())
	}
	if gb.Size() != rb.Size() {
		got = imaging.Resize(got, rb.Dx(), rb.Dy(), imaging.Lanczos)
	}
	flat := imaging.New(rb.Dx(), rb.Dy(), image.White.C)
	got = imaging.Overlay(flat, got, image.Point{}, 1)
	ref = imaging.Overlay(flat, ref, image.Point{}, 1)
	var err error
	if psnr, err = quality.PSNRRGB(got, ref); err != nil {
		t.Fatal(err)
	}
	if ssim, err = quality.SSIM(got, ref); err != nil {
		t.Fatal(err)
	}
	return psnr, ssim
}

func abs(v int) int { return max(v, -v) }
