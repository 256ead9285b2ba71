package transform

import "testing"

func TestSniff(t *testing.T) {
	tests := []struct {
		name, head, want string
		ok               bool
	}{
		{"jpeg", "\xFF\xD8\xFF\xE0", formatJPEG, true},
		{"png", "\x89PNG\r\n\x1a\n\x00", formatPNG, true},
		{"gif87", "GIF87a", formatGIF, true},
		{"gif89", "GIF89a", formatGIF, true},
		{"webp", "RIFF\x10\x00\x00\x00WEBPVP8 ", formatWebP, true},
		{"riff not webp", "RIFF\x10\x00\x00\x00AVI LIST", "", false},
		{"heic", "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", formatHEIC, true},
		{"heif by compatible brand", "\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1MiHEheix", formatHEIC, true},
		{"avif", "\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miafMA1B", formatAVIF, true},
		{"mp4", "\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "", false},
		{"svg", "<svg xmlns=", "", false},
		{"empty", "", "", false},
		{"truncated jpeg", "\xFF\xD8", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sniff([]byte(tt.head))
			if got != tt.want || ok != tt.ok {
				t.Errorf("sniff(%q) = %q, %v; want %q, %v", tt.head, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestIsImageType(t *testing.T) {
	for mime, want := range map[string]bool{
		"image/jpeg": true, "IMAGE/PNG": true, "image/gif": true, "image/webp": true,
		"image/heic": true, "image/heif": true, "image/avif": true,
		"image/jpeg; charset=binary": true, "image/svg+xml": false, "text/html": false, "": false,
	} {
		if got := IsImageType(mime); got != want {
			t.Errorf("IsImageType(%q) = %v, want %v", mime, got, want)
		}
	}
}
