package mediasvc

import (
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func testVideo(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10", "-t", "3", "-pix_fmt", "yuv420p", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (apt-get install ffmpeg): %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVideoUploadGetsDimensionsDurationAndPreviews(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, testVideo(t), "video/mp4")
	if m.Width != 640 || m.Height != 360 || m.Length < 2900 || m.Length > 3200 {
		t.Fatalf("video JSON: %dx%d, length %d ms; want 640x360, about 3000 ms", m.Width, m.Height, m.Length)
	}
	// The poster frame's placeholder, landscape like the video.
	if ph, err := base64.StdEncoding.DecodeString(m.Placeholder); err != nil || len(ph) < 5 || ph[4]&0x80 == 0 {
		t.Errorf("video placeholder %q (%v), want a landscape ThumbHash", m.Placeholder, err)
	}
	for _, tc := range []struct {
		query string
		w, h  int
	}{{"maxwidth=240&maxheight=320", 240, 135}, {"maxwidth=480&maxheight=320", 480, 270}, {"maxwidth=100", 100, 56}} {
		resp, b := e.do("GET", "/"+privateChan+"/"+m.ID+"?"+tc.query, alice, nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("video preview %s: %d %s", tc.query, resp.StatusCode, b)
		}
		if format, w, h := decodeSize(t, b); format != "jpeg" || w != tc.w || h != tc.h {
			t.Fatalf("video preview %s: %s %dx%d, want jpeg %dx%d", tc.query, format, w, h, tc.w, tc.h)
		}
	}
	// The file itself is the video, served inline.
	resp, b := e.do("GET", "/"+privateChan+"/"+m.ID, alice, nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || int64(len(b)) != *m.FileSize {
		t.Fatalf("video file: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	if resp, _ := e.do("DELETE", "/"+privateChan+"/"+m.ID, alice, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if files := e.blobFiles(); len(files) != 0 {
		t.Fatalf("delete left the poster or previews: %v", files)
	}
}

func TestUnreadableVideoIsStoredWithoutPreviews(t *testing.T) {
	e := newEnv(t)
	m := e.mustUpload(privateChan, alice, []byte("not really a video"), "video/mp4")
	if m.Width != 0 || m.Length != 0 {
		t.Fatalf("garbage video got dimensions: %+v", m)
	}
	if resp, _ := e.do("GET", "/"+privateChan+"/"+m.ID+"?maxwidth=240", alice, nil, nil); resp.StatusCode != 412 {
		t.Fatalf("preview of an unreadable video: %d, want 412", resp.StatusCode)
	}
}

// ffmpeg runs in one of the image workers' slots: while every slot is
// taken, a video upload waits for one instead of starting another heavy
// process beside them.
func TestVideoWorkSharesTheImageWorkerSlots(t *testing.T) {
	e := newEnv(t)
	video := testVideo(t)
	var held []func()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		release, err := e.srv.images.Acquire(ctx)
		cancel()
		if err != nil {
			break // every slot is held
		}
		held = append(held, release)
	}
	done := make(chan int, 1)
	go func() {
		status, _ := e.upload("/"+privateChan, alice, video, "video/mp4")
		done <- status
	}()
	select {
	case status := <-done:
		t.Fatalf("video upload finished (%d) while all %d worker slots were held", status, len(held))
	case <-time.After(500 * time.Millisecond):
	}
	for _, release := range held {
		release()
	}
	select {
	case status := <-done:
		if status != http.StatusCreated {
			t.Fatalf("video upload after the slots freed: %d", status)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("video upload did not finish after the slots freed")
	}
}
