package s3store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReadPart(t *testing.T) {
	pool := newChunkPool()
	ctx := context.Background()
	tests := []struct {
		name        string
		size, limit int
		wantSize    int
		wantEOF     bool
	}{
		{"empty body", 0, 5 * chunkSize, 0, true},
		{"one byte", 1, 5 * chunkSize, 1, true},
		{"a chunk less one", chunkSize - 1, 5 * chunkSize, chunkSize - 1, true},
		{"exactly a chunk", chunkSize, 5 * chunkSize, chunkSize, true},
		{"a chunk and one", chunkSize + 1, 5 * chunkSize, chunkSize + 1, true},
		{"fills the part exactly", 3 * chunkSize, 3 * chunkSize, 3 * chunkSize, false},
		{"longer than the part", 3*chunkSize + 10, 3 * chunkSize, 3 * chunkSize, false},
		{"part not a multiple of chunks", 4 * chunkSize, 2*chunkSize + 7, 2*chunkSize + 7, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			rand.NewChaCha8([32]byte{byte(tc.size)}).Read(data)
			// Short reads, so that filling takes many of them.
			p, err := pool.readPart(ctx, iotest.HalfReader(bytes.NewReader(data)), tc.limit)
			if tc.wantEOF && err != io.EOF || !tc.wantEOF && err != nil {
				t.Fatalf("readPart = %v, want EOF %v", err, tc.wantEOF)
			}
			defer pool.release(p)
			if p.size != tc.wantSize {
				t.Fatalf("part holds %d bytes, want %d", p.size, tc.wantSize)
			}
			// Read, seek and re-read as the SDK does to sign and retry.
			if err := iotest.TestReader(p.reader(), data[:tc.wantSize]); err != nil {
				t.Errorf("part reader: %v", err)
			}
			var copied bytes.Buffer
			r := p.reader()
			r.Seek(1, io.SeekStart)
			if n, err := io.Copy(&copied, r); err != nil || !bytes.Equal(copied.Bytes(), data[min(1, tc.wantSize):tc.wantSize]) {
				t.Errorf("io.Copy (WriteTo) from offset 1 = %d bytes, %v; differs from the data", n, err)
			}
		})
	}
}

func TestReadPartFailure(t *testing.T) {
	pool := newChunkPool()
	broken := errors.New("broken")
	r := io.MultiReader(bytes.NewReader(make([]byte, chunkSize+5)), iotest.ErrReader(broken))
	if _, err := pool.readPart(context.Background(), r, 4*chunkSize); !errors.Is(err, broken) {
		t.Errorf("readPart of a failing reader = %v, want its error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pool.readPart(ctx, bytes.NewReader(make([]byte, 10)), 4*chunkSize); !errors.Is(err, context.Canceled) {
		t.Errorf("readPart with a cancelled context = %v, want context.Canceled", err)
	}
}
