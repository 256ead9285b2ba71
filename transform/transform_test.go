package transform

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

func newTestTransformer(t *testing.T) *Transformer {
	t.Helper()
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"zero max pixels", mod(func(c *Config) { c.MaxPixels = 0 }), false},
		{"quality 0", mod(func(c *Config) { c.JPEGQuality = 0 }), false},
		{"quality 101", mod(func(c *Config) { c.JPEGQuality = 101 }), false},
		{"negative workers", mod(func(c *Config) { c.Workers = -1 }), false},
		{"tiny avatar", mod(func(c *Config) { c.AvatarSide = 8 }), false},
		{"zero value", Config{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if _, err := New(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("New() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParseBox(t *testing.T) {
	tests := []struct {
		in   string
		want Box
		ok   bool
	}{
		{"240x320", Box{240, 320}, true},
		{" 320X480 ", Box{320, 480}, true},
		{"1x1", Box{1, 1}, true},
		{"0x320", Box{}, false},
		{"-5x10", Box{}, false},
		{"240", Box{}, false},
		{"ax b", Box{}, false},
		{"100000x10", Box{}, false},
		{"", Box{}, false},
	}
	for _, tt := range tests {
		got, err := ParseBox(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBox(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != fmtBox(tt.want) {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func fmtBox(b Box) string { return b.String() }

func TestPreviewsEachFormat(t *testing.T) {
	tr := newTestTransformer(t)
	big := quadrants(800, 600)
	tests := []struct {
		name, wantMime string
		data           []byte
		wantW, wantH   int // for box 320x480
	}{
		{"jpeg", "image/jpeg", encodeJPEG(t, big, 90), 320, 240},
		{"png opaque", "image/jpeg", encodePNG(t, big), 320, 240},
		{"gif", "image/jpeg", encodeGIF(t, big), 320, 240},
		{"webp", "image/jpeg", webpFile(t, "testdata/quadrants.webp", 64, 32, 0), 64, 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := tr.Previews(bytes.NewReader(tt.data), 0, []Box{{320, 480}, {240, 320}})
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 2 {
				t.Fatalf("got %d previews, want 2", len(imgs))
			}
			p := imgs[0]
			if p.MimeType != tt.wantMime || p.Width != tt.wantW || p.Height != tt.wantH {
				t.Errorf("got %s %dx%d, want %s %dx%d", p.MimeType, p.Width, p.Height, tt.wantMime, tt.wantW, tt.wantH)
			}
			dec, format, err := image.Decode(bytes.NewReader(p.Data))
			if err != nil || "image/"+format != p.MimeType {
				t.Fatalf("preview does not decode as %s: %v", p.MimeType, err)
			}
			if b := dec.Bounds(); b.Dx() != p.Width || b.Dy() != p.Height {
				t.Errorf("decoded %v, reported %dx%d", b, p.Width, p.Height)
			}
			checkQuadrants(t, dec)
			if s := imgs[1]; s.Width > 240 || s.Height > 320 {
				t.Errorf("second box: %dx%d does not fit 240x320", s.Width, s.Height)
			}
		})
	}
}

func TestPreviewsTransparencyGivesPNG(t *testing.T) {
	tr := newTestTransformer(t)
	half := image.NewNRGBA(image.Rect(0, 0, 800, 600))
	for y := 0; y < 600; y++ {
		for x := 400; x < 800; x++ {
			half.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	pal := image.NewPaletted(image.Rect(0, 0, 800, 600), color.Palette{color.Transparent, color.NRGBA{0, 0, 255, 255}})
	for y := 0; y < 600; y++ {
		for x := 0; x < 400; x++ {
			pal.SetColorIndex(x, y, 1)
		}
	}
	var gbuf bytes.Buffer
	if err := gif.Encode(&gbuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"png":  encodePNG(t, half),
		"gif":  gbuf.Bytes(),
		"webp": webpFile(t, "testdata/alpha.webp", 32, 32, 0),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{{240, 320}})
			if err != nil {
				t.Fatal(err)
			}
			if imgs[0].MimeType != "image/png" {
				t.Fatalf("got %s, want image/png", imgs[0].MimeType)
			}
			dec, _, err := image.Decode(bytes.NewReader(imgs[0].Data))
			if err != nil {
				t.Fatal(err)
			}
			b := dec.Bounds()
			_, _, _, a := dec.At(b.Min.X+b.Dx()/8, b.Dy()/2).RGBA()
			_, _, _, a2 := dec.At(b.Min.X+7*b.Dx()/8, b.Dy()/2).RGBA()
			if name == "gif" {
				a, a2 = a2, a // the GIF is opaque on the left
			}
			if a != 0 || a2 != 0xFFFF {
				t.Errorf("alpha left %d right %d, want transparent left, opaque right", a, a2)
			}
		})
	}
}

func TestPreviewsTinyAndExtremeShapes(t *testing.T) {
	tr := newTestTransformer(t)
	tests := []struct {
		name         string
		img          image.Image
		wantW, wantH int
	}{
		{"1x1", quadrants(1, 1), 1, 1},
		{"3x2", quadrants(3, 2), 3, 2},
		{"panorama 9000x30", quadrants(9000, 30), 240, 1},
		{"tower 20x5000", quadrants(20, 5000), 1, 320},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := encodePNG(t, tt.img)
			imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{{240, 320}})
			if err != nil {
				t.Fatal(err)
			}
			if p := imgs[0]; p.Width != tt.wantW || p.Height != tt.wantH {
				t.Errorf("got %dx%d, want %dx%d", p.Width, p.Height, tt.wantW, tt.wantH)
			}
		})
	}
}

func TestPreviewsHugeImageWithinLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes a 35 MP JPEG")
	}
	tr := newTestTransformer(t)
	huge := image.NewGray(image.Rect(0, 0, 7000, 5000))
	for i := range huge.Pix {
		huge.Pix[i] = uint8(i / 7000 % 256)
	}
	data := encodeJPEG(t, huge, 70)
	imgs, err := tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{{320, 480}})
	if err != nil {
		t.Fatal(err)
	}
	if p := imgs[0]; p.Width != 320 || p.Height != 229 {
		t.Errorf("got %dx%d, want 320x229", p.Width, p.Height)
	}
	small, _ := New(Config{MaxPixels: 30_000_000, JPEGQuality: 80, AvatarSide: 512})
	if _, err := small.Previews(bytes.NewReader(data), 0, []Box{{320, 480}}); !errors.Is(err, ErrTooManyPixels) {
		t.Errorf("with a 30 MP limit got %v, want ErrTooManyPixels", err)
	}
}

func TestPreviewsAndAvatarRefuseBadInput(t *testing.T) {
	tr := newTestTransformer(t)
	jpg := encodeJPEG(t, noisy(64, 48), 90)
	cases := map[string]struct {
		data []byte
		want error
	}{
		"not an image": {[]byte("<html><script>alert(1)</script></html>"), ErrUnsupported},
		"empty":        {nil, ErrUnsupported},
		"truncated":    {jpg[:len(jpg)/2], ErrCorrupt},
	}
	for name, d := range bombs(t) {
		cases["bomb "+name] = struct {
			data []byte
			want error
		}{d, ErrTooManyPixels}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := tr.Previews(bytes.NewReader(c.data), 0, []Box{{240, 320}}); !errors.Is(err, c.want) {
				t.Errorf("Previews: got %v, want %v", err, c.want)
			}
			if _, err := tr.Avatar(bytes.NewReader(c.data)); !errors.Is(err, c.want) {
				t.Errorf("Avatar: got %v, want %v", err, c.want)
			}
		})
	}
}

func TestPreviewsStripMetadata(t *testing.T) {
	tr := newTestTransformer(t)
	data := jpegWithOrientation(t, noisy(800, 600), 1, true) // carries XMP and an EXIF GPS IFD
	imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{{320, 480}})
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{"Exif", "xmpmeta", "MM\x00\x2a"} {
		if bytes.Contains(imgs[0].Data, []byte(needle)) {
			t.Errorf("preview contains %q from the original's metadata", needle)
		}
	}
}

func TestPreviewsNeverLargerThanOriginal(t *testing.T) {
	tr := newTestTransformer(t)
	// A heavily compressed small JPEG: re-encoding it at quality 80 grows it.
	orig := encodeJPEG(t, noisy(200, 150), 5)
	imgs, err := tr.Previews(bytes.NewReader(orig), int64(len(orig)), []Box{{320, 480}})
	if err != nil {
		t.Fatal(err)
	}
	p := imgs[0]
	if !p.UseOriginal || p.Data != nil || p.MimeType != "image/jpeg" || p.Width != 200 || p.Height != 150 {
		t.Fatalf("got %+v, want UseOriginal for the 200x150 JPEG", p)
	}
	// Rotated or WebP originals cannot stand in for a preview on an old
	// browser, so they get a preview even when it is larger.
	rot := jpegWithOrientation(t, noisy(200, 150), 6, false)
	imgs, err = tr.Previews(bytes.NewReader(rot), 1, []Box{{320, 480}})
	if err != nil {
		t.Fatal(err)
	}
	if imgs[0].UseOriginal || imgs[0].Width != 150 || imgs[0].Height != 200 {
		t.Errorf("rotated original: got UseOriginal=%v %dx%d, want a 150x200 preview", imgs[0].UseOriginal, imgs[0].Width, imgs[0].Height)
	}
	webp := webpFile(t, "testdata/quadrants.webp", 64, 32, 0)
	imgs, err = tr.Previews(bytes.NewReader(webp), 1, []Box{{320, 480}})
	if err != nil || imgs[0].UseOriginal || imgs[0].MimeType != "image/jpeg" {
		t.Errorf("webp original: got %+v, %v; want a JPEG preview", imgs[0], err)
	}
}

func TestAvatarIsOrientedCentreSquare(t *testing.T) {
	tr := newTestTransformer(t)
	// Upright 1200x600: left half red/blue, right green/yellow; the centre
	// square holds all four quadrants' inner halves.
	upright := quadrants(1200, 600)
	for _, o := range []int{1, 3, 6, 8} {
		data := jpegWithOrientation(t, storedFor(upright, o), o, o%2 == 0)
		img, err := tr.Avatar(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if img.Width != 512 || img.Height != 512 || img.MimeType != "image/jpeg" {
			t.Fatalf("orientation %d: got %s %dx%d, want image/jpeg 512x512", o, img.MimeType, img.Width, img.Height)
		}
		dec, _, err := image.Decode(bytes.NewReader(img.Data))
		if err != nil {
			t.Fatal(err)
		}
		checkQuadrants(t, dec)
	}
	small := encodePNG(t, quadrants(100, 60))
	img, err := tr.Avatar(bytes.NewReader(small))
	if err != nil || img.Width != 60 || img.Height != 60 {
		t.Errorf("small avatar: got %dx%d, %v; want 60x60 (never enlarged)", img.Width, img.Height, err)
	}
}

func TestWorkersBoundConcurrency(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := encodeJPEG(t, noisy(400, 300), 90)
	// The first call holds the only slot while its reader is stalled.
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := tr.Previews(pr, 0, []Box{{240, 320}}); err != nil {
			t.Errorf("held call: %v", err)
		}
	}()
	if _, err := pw.Write(data[:100]); err != nil { // returns once the holder is reading
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := tr.PreviewsContext(ctx, bytes.NewReader(data), 0, []Box{{240, 320}}); !errors.Is(err, ErrBusy) {
		t.Errorf("second call: got %v, want ErrBusy", err)
	}
	if _, err := tr.AvatarContext(ctx, bytes.NewReader(data)); !errors.Is(err, ErrBusy) {
		t.Errorf("avatar: got %v, want ErrBusy", err)
	}
	pw.Write(data[100:])
	pw.Close()
	wg.Wait()
	if _, err := tr.PreviewsContext(context.Background(), bytes.NewReader(data), 0, []Box{{240, 320}}); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestConcurrentPreviewsRace(t *testing.T) {
	tr := newTestTransformer(t)
	data := jpegWithOrientation(t, noisy(600, 400), 6, true)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs, err := tr.Previews(bytes.NewReader(data), 0, []Box{{240, 320}, {320, 480}})
			if err != nil || imgs[0].Width != 213 || imgs[0].Height != 320 {
				t.Errorf("got %+v, %v", imgs, err)
			}
		}()
	}
	wg.Wait()
}

func TestInspect(t *testing.T) {
	tr := newTestTransformer(t)
	data := jpegWithOrientation(t, noisy(300, 200), 8, true)
	info, err := tr.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Format: "jpeg", MimeType: "image/jpeg", Width: 200, Height: 300, Orientation: 8}
	if info != want {
		t.Errorf("got %+v, want %+v", info, want)
	}
}

// TestAvatarFromScaledDecode: with a small AvatarSide the JPEG is decoded
// at 1/4 in the DCT domain; the crop, orientation and size must not change.
func TestAvatarFromScaledDecode(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AvatarSide = 64
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	upright := quadrants(1200, 600)
	for _, o := range []int{1, 6} {
		data := jpegWithOrientation(t, storedFor(upright, o), o, true)
		img, err := tr.Avatar(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if img.Width != 64 || img.Height != 64 {
			t.Fatalf("orientation %d: %dx%d, want 64x64", o, img.Width, img.Height)
		}
		dec, _, err := image.Decode(bytes.NewReader(img.Data))
		if err != nil {
			t.Fatal(err)
		}
		checkQuadrants(t, dec)
	}
}

// TestGIFFirstFrameSmallerThanScreen: the preview fits the decoded first
// frame and is never enlarged to the logical screen's size.
func TestGIFFirstFrameSmallerThanScreen(t *testing.T) {
	tr := newTestTransformer(t)
	frame := image.NewPaletted(image.Rect(0, 0, 100, 50), color.Palette{color.Black, color.White})
	g := &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{Width: 1000, Height: 500, ColorModel: frame.Palette}}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	imgs, err := tr.Previews(bytes.NewReader(buf.Bytes()), 0, []Box{{320, 480}})
	if err != nil {
		t.Fatal(err)
	}
	if p := imgs[0]; p.Width != 100 || p.Height != 50 {
		t.Errorf("got %dx%d, want the 100x50 frame as is", p.Width, p.Height)
	}
}

// TestSmallOriginalsAreScaledIntoTheBox: an original that does not fit the
// box is scaled into it even when the preview costs more bytes than the
// original (issue 13: a 150x103 quality-50 JPEG in a 100x100 box was served
// as itself), and the preview keeps to the original's JPEG quality.
func TestSmallOriginalsAreScaledIntoTheBox(t *testing.T) {
	tr := newTestTransformer(t)
	photo := testimage.Photo(150, 103, 9)
	jpg := encodeJPEG(t, photo, 50)
	gif := encodeGIF(t, testimage.Photo(256, 128, 4))
	tests := []struct {
		name         string
		data         []byte
		box          Box
		wantW, wantH int
		wantOriginal bool
	}{
		{"jpeg q50 150x103 in 100x100", jpg, Box{100, 100}, 100, 69, false},
		{"gif 256x128 in 100x100", gif, Box{100, 100}, 100, 50, false},
		{"jpeg q50 150x103 in 150x103", jpg, Box{150, 103}, 150, 103, true},
		{"jpeg q50 150x103 in 240x320", jpg, Box{240, 320}, 150, 103, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := tr.Previews(bytes.NewReader(tt.data), int64(len(tt.data)), []Box{tt.box})
			if err != nil {
				t.Fatal(err)
			}
			p := imgs[0]
			if p.Width != tt.wantW || p.Height != tt.wantH || p.UseOriginal != tt.wantOriginal {
				t.Fatalf("got %dx%d UseOriginal=%v, want %dx%d UseOriginal=%v", p.Width, p.Height, p.UseOriginal, tt.wantW, tt.wantH, tt.wantOriginal)
			}
			if p.UseOriginal {
				return
			}
			if dec := decodeBytes(t, p.Data); dec.Bounds().Dx() != tt.wantW || dec.Bounds().Dy() != tt.wantH {
				t.Fatalf("encoded preview is %v", dec.Bounds())
			}
			t.Logf("%d-byte original, %dx%d preview of %d bytes", len(tt.data), p.Width, p.Height, len(p.Data))
			if tt.data[0] == 0xFF && len(p.Data) >= len(tt.data) {
				t.Errorf("preview of %d bytes is not smaller than the %d-byte original it shrinks", len(p.Data), len(tt.data))
			}
		})
	}
}
