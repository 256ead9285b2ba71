package transform

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// TestRefusesJPEGVariantsCleanly: arithmetic-coded and 12-bit JPEG files
// are valid JPEG that image/jpeg does not implement; they must be refused
// as ErrUnsupported (415), neither ErrCorrupt (422) nor a crash, by Inspect,
// Previews and Avatar alike.
func TestRefusesJPEGVariantsCleanly(t *testing.T) {
	dir := t.TempDir()
	base := jpegVariant{name: "base", w: 301, h: 203, cjpeg: []string{"-sample", "2x2"}}
	arith := jpegVariant{name: "arithmetic", w: 301, h: 203, cjpeg: []string{"-arithmetic"}}
	arithProg := jpegVariant{name: "arithmetic progressive", w: 301, h: 203, cjpeg: []string{"-arithmetic", "-progressive"}}
	read := func(v jpegVariant) []byte {
		data, err := os.ReadFile(v.make(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// cjpeg here writes only 8-bit samples; a 12-bit file is refused on
	// its frame header (sample precision), so the header is what we change.
	twelve := read(base)
	sof := bytes.Index(twelve, []byte{0xFF, 0xC0})
	if sof < 0 {
		t.Fatal("no SOF0 in cjpeg output")
	}
	twelve[sof+4] = 12
	tr, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"arithmetic": read(arith), "arithmetic progressive": read(arithProg), "12-bit": twelve} {
		t.Run(name, func(t *testing.T) {
			check := func(step string, err error) {
				t.Helper()
				if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) {
					t.Errorf("%s: got %v, want ErrUnsupported only", step, err)
				}
			}
			_, err := tr.Inspect(bytes.NewReader(data))
			check("Inspect", err)
			_, err = tr.Previews(bytes.NewReader(data), int64(len(data)), []Box{{100, 100}})
			check("Previews", err)
			_, err = tr.Avatar(bytes.NewReader(data))
			check("Avatar", err)
		})
	}
}
