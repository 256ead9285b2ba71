package poster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xmppmedia/mediaserver/transform/poster"
)

// watcher notices any attempt to reach outside the upload: a TCP listener
// that counts connections (a URL the file points at) and a FIFO beside the
// upload (another file in the same directory) that notices being opened.
type watcher struct {
	addr      string
	fifo      string
	conns     atomic.Int64
	fifoOpens atomic.Int64
	stop      chan struct{}
}

func newWatcher(t *testing.T, dir string) *watcher {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{addr: ln.Addr().String(), fifo: filepath.Join(dir, "other-upload.ts"), stop: make(chan struct{})}
	if err := syscall.Mkfifo(w.fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			w.conns.Add(1)
			c.Close()
		}
	}()
	// Opening a FIFO for writing without blocking succeeds only while
	// someone has it open for reading.
	go func() {
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if fd, err := syscall.Open(w.fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.fifoOpens.Add(1)
				syscall.Close(fd)
			}
		}
	}()
	t.Cleanup(func() { close(w.stop); ln.Close() })
	return w
}

// Uploads crafted to make ffmpeg fetch a URL or read another file are
// refused, and nothing outside the upload is touched.
func TestHostileContainersAreRefused(t *testing.T) {
	m, err := poster.New(poster.Config{MaxPixels: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := newWatcher(t, dir)
	url := "http://" + w.addr + "/segment.ts"
	real, err := os.ReadFile(makeVideo(t, "real.mp4", "160x120", "2"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"HLS playlist", []byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n" + url +
			"\n#EXTINF:10.0,\nother-upload.ts\n#EXT-X-ENDLIST\n")},
		{"ffconcat list", []byte("ffconcat version 1.0\nfile 'other-upload.ts'\nfile '" + url + "'\n")},
		{"playlist behind an ftyp box", append([]byte("\x00\x00\x00\x10ftypisom\x00\x00\x02\x00"),
			[]byte("#EXTM3U\n#EXTINF:10.0,\n"+url+"\n#EXTINF:10.0,\nother-upload.ts\n")...)},
		{"mp4 whose data is at a URL (dref)", externalDref(t, real, url)},
		{"mp4 whose data is in another file (dref)", externalDref(t, real, "other-upload.ts")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns, opens := w.conns.Load(), w.fifoOpens.Load()
			path := filepath.Join(dir, "upload-"+string(rune('a'+i)))
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			info, err := m.Probe(ctx, path)
			if err == nil {
				_, err = m.Frame(ctx, path, info)
			}
			if !errors.Is(err, poster.ErrNoVideo) {
				t.Errorf("Probe/Frame = %+v, %v; want ErrNoVideo", info, err)
			}
			time.Sleep(20 * time.Millisecond) // let the watchers see a late attempt
			if n := w.conns.Load() - conns; n != 0 {
				t.Errorf("%d connections to the URL in the file", n)
			}
			if n := w.fifoOpens.Load() - opens; n != 0 {
				t.Errorf("the other file beside the upload was opened %d times", n)
			}
		})
	}
}

// externalDref rewrites an mp4 (moov after mdat, as ffmpeg writes it) so
// that its track's data reference points at location instead of "this
// file". Box sizes on the way down are fixed up; the samples stay where
// they are.
func externalDref(t *testing.T, mp4 []byte, location string) []byte {
	t.Helper()
	loc := append([]byte(location), 0)
	entry := make([]byte, 12, 12+len(loc))
	binary.BigEndian.PutUint32(entry[0:], uint32(12+len(loc)))
	copy(entry[4:], "url ")
	// version 0, flags 0: not self-contained
	entry = append(entry, loc...)
	dref := make([]byte, 16)
	binary.BigEndian.PutUint32(dref[0:], uint32(16+len(entry)))
	copy(dref[4:], "dref")
	binary.BigEndian.PutUint32(dref[12:], 1)
	dref = append(dref, entry...)

	var rewrite func(b []byte) ([]byte, bool)
	rewrite = func(b []byte) ([]byte, bool) {
		var out []byte
		found := false
		for len(b) >= 8 {
			size := int(binary.BigEndian.Uint32(b))
			typ := string(b[4:8])
			if size < 8 || size > len(b) {
				t.Fatalf("unexpected box %q size %d", typ, size)
			}
			box := b[:size]
			switch {
			case typ == "dref":
				box, found = dref, true
			case strings.Contains("moov trak mdia minf dinf", typ):
				inner, ok := rewrite(box[8:])
				if ok {
					found = true
					nb := make([]byte, 8, 8+len(inner))
					binary.BigEndian.PutUint32(nb, uint32(8+len(inner)))
					copy(nb[4:], typ)
					box = append(nb, inner...)
				}
			}
			out = append(out, box...)
			b = b[size:]
		}
		return out, found
	}
	out, found := rewrite(mp4)
	if !found {
		t.Fatal("no dref box in the test video")
	}
	return out
}

// QuickTime files (iPhones write them) reference their own data with an
// 'alis' entry flagged self-contained: such a file is read normally.
func TestSelfContainedAliasIsAccepted(t *testing.T) {
	m, err := poster.New(poster.Config{MaxPixels: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(makeVideo(t, "q.mov", "160x120", "2"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "dref")
	j := strings.Index(string(b[i:]), "url ")
	if i < 0 || j < 0 {
		t.Fatal("no dref url entry in the test video")
	}
	copy(b[i+j:], "alis")
	path := filepath.Join(t.TempDir(), "alias.mov")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := m.Probe(context.Background(), path)
	if err != nil || info.Width != 160 || info.Height != 120 {
		t.Fatalf("Probe = %+v, %v; want 160x120", info, err)
	}
}
