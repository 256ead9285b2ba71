package mediasvc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentPhotoUploadsRSS: eight 12-megapixel phone photos (half of
// them progressive JPEGs) uploaded at once to a real server process keep its
// peak resident memory under 300 MB, previews made at upload included.
// The race detector multiplies memory, so this runs in the non-race pass of
// scripts/test.
func TestConcurrentPhotoUploadsRSS(t *testing.T) {
	if raceEnabled {
		t.Skip("memory is measured without the race detector (scripts/test runs this test again without -race)")
	}
	if testing.Short() {
		t.Skip("12 MP uploads skipped in -short mode")
	}
	dir := t.TempDir()
	baseline := photo12MP(t)
	progressive := toProgressive(t, dir, baseline)
	cmd, base := startCrashChild(t, "serve", dir)

	const uploads = 8
	var wg sync.WaitGroup
	statuses := make(chan int, uploads)
	for i := 0; i < uploads; i++ {
		data := baseline
		if i%2 == 1 {
			data = progressive
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := multipartBody(t, part{name: "content-type", value: "image/jpeg"}, part{name: "data", file: data, fileName: "phone.jpg"})
			req, _ := http.NewRequest("POST", base+"/"+privateChan, body)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Basic "+cred(alice))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusCreated {
			t.Fatalf("an upload answered %d", s)
		}
	}
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("8 concurrent 12 MP uploads (%d KB baseline, %d KB progressive): server peak RSS %d MB",
		len(baseline)>>10, len(progressive)>>10, peak>>20)
	if peak > 300<<20 {
		t.Fatalf("peak RSS %d MB, want under 300 MB", peak>>20)
	}
}

// photo12MP is a 4000x3000 JPEG with enough detail to be a few MB, like a
// phone photo.
func photo12MP(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	seed := uint32(1)
	for y := 0; y < 3000; y++ {
		for x := 0; x < 4000; x++ {
			seed = seed*1664525 + 1013904223
			n := uint8(seed >> 27) // a little noise, as a sensor gives
			img.Set(x, y, color.RGBA{uint8(x/16) + n, uint8(y/12) + n, uint8((x+y)/28) + n, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// toProgressive re-encodes a JPEG as progressive with libvips (Go's encoder
// writes only baseline).
func toProgressive(t *testing.T, dir string, baseline []byte) []byte {
	in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "progressive.jpg")
	if err := os.WriteFile(in, baseline, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("vips", "jpegsave", in, out, "--interlace", "--Q", "92").CombinedOutput(); err != nil {
		t.Fatalf("vips (apt-get install libvips-tools) could not make a progressive JPEG: %v %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// peakRSS reads a process's high-water resident set size.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
