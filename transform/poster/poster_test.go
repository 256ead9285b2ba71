package poster_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xmppmedia/mediaserver/transform/poster"
)

// makeVideo encodes a test pattern with ffmpeg; remux args, when given,
// are applied in a second stream-copy pass (how rotation metadata is set,
// as a phone records it).
func makeVideo(t *testing.T, name, size, seconds string, remux ...string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, name)
	first := out
	if len(remux) > 0 {
		first = filepath.Join(dir, "plain-"+name)
	}
	ffmpeg := func(args ...string) {
		if b, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg (apt-get install ffmpeg): %v %s", err, b)
		}
	}
	ffmpeg("-f", "lavfi", "-i", "testsrc=size="+size+":rate=10", "-t", seconds, "-pix_fmt", "yuv420p", first)
	if len(remux) > 0 {
		ffmpeg(append(append([]string{"-i", first, "-c", "copy"}, remux...), out)...)
	}
	return out
}

func TestProbeAndFrame(t *testing.T) {
	m, err := poster.New(poster.Config{MaxPixels: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		path       string
		w, h       int
		durationMS int64
	}{
		{"mp4", makeVideo(t, "a.mp4", "640x360", "3"), 640, 360, 3000},
		{"short webm", makeVideo(t, "b.webm", "320x240", "0.5"), 320, 240, 500},
		{"rotated phone video", makeVideo(t, "c.mp4", "640x360", "2", "-metadata:s:v:0", "rotate=90"), 360, 640, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := m.Probe(ctx, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != tc.w || info.Height != tc.h || info.DurationMS < tc.durationMS-100 || info.DurationMS > tc.durationMS+150 {
				t.Fatalf("Probe = %+v, want %dx%d, about %d ms", info, tc.w, tc.h, tc.durationMS)
			}
			frame, err := m.Frame(ctx, tc.path, info)
			if err != nil {
				t.Fatal(err)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(frame))
			if err != nil || format != "jpeg" || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Fatalf("frame %s %dx%d (%v), want jpeg %dx%d", format, cfg.Width, cfg.Height, err, tc.w, tc.h)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.mp4")
	os.WriteFile(bad, []byte("not a video at all"), 0o600)
	if _, err := m.Probe(ctx, bad); !errors.Is(err, poster.ErrNoVideo) {
		t.Fatalf("Probe of garbage = %v, want ErrNoVideo", err)
	}
	small, _ := poster.New(poster.Config{MaxPixels: 1000})
	if _, err := small.Probe(ctx, makeVideo(t, "d.mp4", "640x360", "1")); !errors.Is(err, poster.ErrNoVideo) {
		t.Fatalf("over the pixel limit = %v, want ErrNoVideo", err)
	}
}
