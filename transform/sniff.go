package transform

import "bytes"

// Formats this package decodes, named as image.DecodeConfig names them.
const (
	formatJPEG = "jpeg"
	formatPNG  = "png"
	formatGIF  = "gif"
	formatWebP = "webp"
	formatHEIC = "heic" // HEIF with HEVC-coded pictures (iPhone, Samsung)
	formatAVIF = "avif"
)

// sniffLen is how many leading bytes sniff looks at: enough for an ISO
// base media file's ftyp box with a few compatible brands.
const sniffLen = 64

// sniff names the format from its magic bytes. Going by content, never by the
// declared type or file name, keeps a mislabelled upload from reaching the
// wrong decoder.
func sniff(head []byte) (string, bool) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return formatJPEG, true
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG, true
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return formatGIF, true
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return formatWebP, true
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		return sniffFtyp(head)
	}
	return "", false
}

// sniffFtyp tells HEIC from AVIF by the ftyp box's brands: the major brand
// first, then the compatible ones within head (a generic "mif1" file is
// known by them).
func sniffFtyp(head []byte) (string, bool) {
	size := int(head[0])<<24 | int(head[1])<<16 | int(head[2])<<8 | int(head[3])
	brands := [][]byte{head[8:12]}
	for i := 16; i+4 <= min(size, len(head)); i += 4 {
		brands = append(brands, head[i:i+4])
	}
	for _, b := range brands {
		switch string(b) {
		case "avif", "avis":
			return formatAVIF, true
		case "heic", "heix", "heim", "heis", "hevc", "hevx":
			return formatHEIC, true
		}
	}
	return "", false
}

func mimeOf(format string) string {
	switch format {
	case formatJPEG:
		return "image/jpeg"
	case formatPNG:
		return "image/png"
	case formatGIF:
		return "image/gif"
	case formatWebP:
		return "image/webp"
	case formatHEIC:
		return "image/heic"
	case formatAVIF:
		return "image/avif"
	}
	return "application/octet-stream"
}
