package poster

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Containers that phones and browsers record, by the ffmpeg demuxer that
// reads them. Anything else (an HLS playlist, an ffconcat list, an image2
// pattern, a format with its own notion of other files or URLs) is refused
// before ffmpeg runs, and ffmpeg is told which demuxer to use (-f), so it
// never guesses its way into one that follows references.
const (
	demuxMOV      = "mov"      // ISO base media: mp4, mov, 3gp, m4v
	demuxMatroska = "matroska" // webm, mkv
)

// isoTopLevel are box types a QuickTime or ISO base media file may start
// with (ftyp normally; older QuickTime files open with moov, mdat...).
var isoTopLevel = map[string]bool{"ftyp": true, "moov": true, "mdat": true, "free": true, "wide": true, "skip": true}

// Bounds on the box walk, so a crafted file cannot make it long.
const (
	maxBoxes = 4096
	maxDepth = 8
)

// sniffContainer returns the demuxer for the file at path, or ErrNoVideo
// when it is not an allowed container. ISO files are also refused when a
// track's data reference points outside the file (a dref entry without
// the self-contained flag): ffmpeg could otherwise be steered to open
// another file or a URL.
func sniffContainer(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("poster: open %s: %w", path, err)
	}
	defer f.Close()
	var head [12]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return "", fmt.Errorf("%w: too short to be a video", ErrNoVideo)
	}
	switch {
	case binary.BigEndian.Uint32(head[:4]) == 0x1A45DFA3:
		return demuxMatroska, nil
	case isoTopLevel[string(head[4:8])]:
		fi, err := f.Stat()
		if err != nil {
			return "", fmt.Errorf("poster: stat %s: %w", path, err)
		}
		w := boxWalk{r: f}
		if err := w.walk(0, fi.Size(), 0); err != nil {
			return "", err
		}
		return demuxMOV, nil
	}
	return "", fmt.Errorf("%w: not an mp4, mov, 3gp, webm or matroska file", ErrNoVideo)
}

// boxWalk visits ISO boxes down to each data reference.
type boxWalk struct {
	r     io.ReaderAt
	boxes int
}

// containers are the boxes on the way from the file to its drefs.
var containers = map[string]bool{"moov": true, "trak": true, "mdia": true, "minf": true, "dinf": true}

func (w *boxWalk) walk(start, end int64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: boxes nested too deep", ErrNoVideo)
	}
	for off := start; off+8 <= end; {
		if w.boxes++; w.boxes > maxBoxes {
			return fmt.Errorf("%w: too many boxes", ErrNoVideo)
		}
		var h [16]byte
		if _, err := w.r.ReadAt(h[:8], off); err != nil {
			return fmt.Errorf("%w: truncated box header", ErrNoVideo)
		}
		size, typ, hdr := int64(binary.BigEndian.Uint32(h[:4])), string(h[4:8]), int64(8)
		switch size {
		case 0: // to the end of the enclosing box
			size = end - off
		case 1: // 64-bit size follows
			if _, err := w.r.ReadAt(h[8:16], off+8); err != nil {
				return fmt.Errorf("%w: truncated box header", ErrNoVideo)
			}
			size, hdr = int64(binary.BigEndian.Uint64(h[8:16])), 16
		}
		if size < hdr || size > end-off {
			return fmt.Errorf("%w: box %q overruns its container", ErrNoVideo, typ)
		}
		switch {
		case containers[typ]:
			if err := w.walk(off+hdr, off+size, depth+1); err != nil {
				return err
			}
		case typ == "dref":
			if err := w.dref(off+hdr, off+size); err != nil {
				return err
			}
		}
		off += size
	}
	return nil
}

// dref checks each data reference entry of a 'dref' box (version/flags,
// entry count, then boxes) is self-contained.
func (w *boxWalk) dref(start, end int64) error {
	for off := start + 8; off+12 <= end; {
		var h [12]byte
		if _, err := w.r.ReadAt(h[:], off); err != nil {
			return fmt.Errorf("%w: truncated data reference", ErrNoVideo)
		}
		// Whatever the entry's type ('url ', 'urn ', QuickTime's 'alis',
		// which iPhones write), flag 1 says "the data is in this file".
		size, typ := int64(binary.BigEndian.Uint32(h[:4])), string(h[4:8])
		if h[11]&1 != 1 {
			return fmt.Errorf("%w: a track's data lives outside the file (%q reference)", ErrNoVideo, typ)
		}
		if size < 12 || size > end-off {
			return fmt.Errorf("%w: data reference overruns its box", ErrNoVideo)
		}
		off += size
	}
	return nil
}
