package transform

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestReplayReaderReplaysHeaderThenStreams(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	rr := newReplayReader(iotest.OneByteReader(bytes.NewReader(data)))
	head := make([]byte, 5)
	if _, err := io.ReadFull(rr, head); err != nil {
		t.Fatal(err)
	}
	rr.rewind()
	again := make([]byte, 8)
	if _, err := io.ReadFull(rr, again); err != nil || string(again) != "01234567" {
		t.Fatalf("after rewind got %q, %v", again, err)
	}
	rr.rewind()
	rr.stopRecording()
	rest, err := io.ReadAll(rr)
	if err != nil || !bytes.Equal(rest, data) {
		t.Fatalf("full replay got %q, %v", rest, err)
	}
	if rr.recorded() != 0 {
		t.Errorf("recorded %d bytes after the replay was consumed, want 0", rr.recorded())
	}
}

func TestReplayReaderKeepsSourceError(t *testing.T) {
	boom := errors.New("store unavailable")
	rr := newReplayReader(io.MultiReader(bytes.NewReader([]byte{0xFF, 0xD8}), iotest.ErrReader(boom)))
	_, err := io.ReadAll(rr)
	if !errors.Is(err, boom) || !errors.Is(rr.srcErr, boom) {
		t.Fatalf("got %v / %v, want the source error", err, rr.srcErr)
	}
}
