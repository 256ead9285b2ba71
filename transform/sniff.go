package transform

import "bytes"

// Formats this package decodes, named as image.DecodeConfig names them.
const (
	formatJPEG = "jpeg"
	formatPNG  = "png"
	formatGIF  = "gif"
	formatWebP = "webp"
)

// sniffLen is how many leading bytes sniff needs.
const sniffLen = 12

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
	}
	return "application/octet-stream"
}
