package transform

import (
	"errors"
	"io"
)

// replayReader lets the header steps look at the start of a stream that
// cannot seek (an upload body, a blob-store stream) and then lets the decoder
// start over from byte 0. While recording, everything read from src is kept;
// after stopRecording, the kept prefix is replayed once and then dropped, so
// only the header (typically a few KB, at most maxHeaderScan) stays in memory.
//
// It also remembers the first error that came from src itself, so that a
// failing store read is reported as that error rather than as ErrCorrupt.
type replayReader struct {
	src       io.Reader
	buf       []byte
	pos       int
	recording bool
	srcErr    error
}

func newReplayReader(src io.Reader) *replayReader {
	return &replayReader{src: src, recording: true}
}

func (r *replayReader) Read(p []byte) (int, error) {
	if r.pos < len(r.buf) {
		n := copy(p, r.buf[r.pos:])
		r.pos += n
		if !r.recording && r.pos == len(r.buf) {
			r.buf, r.pos = nil, 0
		}
		return n, nil
	}
	n, err := r.src.Read(p)
	if r.recording && n > 0 {
		r.buf = append(r.buf, p[:n]...)
		r.pos += n
	}
	if err != nil && !errors.Is(err, io.EOF) && r.srcErr == nil {
		r.srcErr = err
	}
	return n, err
}

// rewind starts reading again from the first byte recorded.
func (r *replayReader) rewind() { r.pos = 0 }

// stopRecording keeps replaying what was recorded but records nothing more.
func (r *replayReader) stopRecording() {
	r.recording = false
	if r.pos == len(r.buf) {
		r.buf, r.pos = nil, 0
	}
}

// recorded is how many bytes are held for replay.
func (r *replayReader) recorded() int { return len(r.buf) }
