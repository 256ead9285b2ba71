// Command previewbench measures the preview pipeline against libvips'
// vipsthumbnail, whole processes side by side in one run, and prints the
// figures of docs/previews.md:
//
//   - wall time of `mediaserver thumbnail` making both device previews
//     (240x320 and 320x480) in one process vs two vipsthumbnail processes
//     making the same two sizes, alternated run by run, as a ratio;
//   - quality (SSIM and PSNR of the luma) of both against a Lanczos
//     reference computed in Go from the full-resolution decode;
//   - byte size of the 320x480-box preview, and at JPEG qualities 75 to 90
//     beside the Lanczos reference itself encoded at each quality (how much
//     of the SSIM loss is the encoding);
//   - the same photo as HEIC and AVIF: time and peak RSS against the JPEG;
//   - peak RSS of 8 concurrent 12 MP previews (baseline and progressive).
//
// Usage (from the repository root):
//
//	go build -o /tmp/mediaserver ./cmd/mediaserver
//	go run ./transform/internal/previewbench -bin /tmp/mediaserver -runs 15
//
// CI runs it once in a short form (scripts/test: -runs 1 -size 800x600),
// so it cannot rot; the figures of docs/ come from the full size.
//
// It needs vipsthumbnail and vips (Debian libvips-tools) on PATH; vips makes
// the progressive JPEG from the generated baseline one; heif-enc and avifenc
// (Debian libheif-examples, libavif-bin) make the HEIC and AVIF copies.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/internal/quality"
	"github.com/xmppmedia/mediaserver/transform/internal/testimage"
)

var boxes = []transform.Box{{Width: 240, Height: 320}, {Width: 320, Height: 480}}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "rss-child" {
		if err := rssChild(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "rss-child:", err)
			os.Exit(1)
		}
		return
	}
	bin := flag.String("bin", "", "mediaserver binary (required)")
	dir := flag.String("dir", "", "work directory (default: a new temporary one)")
	runs := flag.Int("runs", 11, "timed runs per side and file")
	size := flag.String("size", "4000x3000", "size of the generated photo, WxH (4000x3000: a 12 MP phone photo)")
	quality := flag.Int("quality", transform.DefaultConfig().JPEGQuality, "JPEG quality for both tools")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "previewbench: -bin is required (go build -o /tmp/mediaserver ./cmd/mediaserver)")
		os.Exit(2)
	}
	var w, h int
	if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil || w < 1 || h < 1 {
		fmt.Fprintf(os.Stderr, "previewbench: -size %q: want WxH\n", *size)
		os.Exit(2)
	}
	if err := run(*bin, *dir, *runs, *quality, w, h); err != nil {
		fmt.Fprintln(os.Stderr, "previewbench:", err)
		os.Exit(1)
	}
}

func run(bin, dir string, runs, q, w, h int) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "previewbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := makeInputs(dir, w, h)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %d CPUs, %s/%s, %s; runs per side: %d; JPEG quality %d for both\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), runs, q)

	fmt.Println("| input | 2 x vipsthumbnail (median of sums) | mediaserver thumbnail, both sizes (median) | ratio | same with --full-decode | ratio | peak RSS: ours / ours full / vips |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, f := range files {
		if err := timeSideBySide(bin, dir, f, runs, q); err != nil {
			return err
		}
	}
	fmt.Println()
	fmt.Println("| input | box | vipsthumbnail | mediaserver | mediaserver --full-decode |")
	fmt.Println("|---|---|---|---|---|")
	for _, f := range files {
		if err := compareQuality(dir, f); err != nil {
			return err
		}
	}
	fmt.Println()
	if err := qualitySweep(bin, dir, files[0]); err != nil {
		return err
	}
	fmt.Println()
	if err := heifFigures(bin, dir, files[0], runs, q, w, h); err != nil {
		return err
	}
	fmt.Println()
	fmt.Printf("| 8 concurrent %dx%d previews in one process (4 baseline + 4 progressive, both sizes) | peak RSS | wall |\n", w, h)
	fmt.Println("|---|---|---|")
	for _, full := range []bool{false, true} {
		for _, workers := range []int{0, 8} {
			if err := measureRSS(files, workers, full); err != nil {
				return err
			}
		}
	}
	return nil
}

type input struct{ name, path string }

// heifFigures times both device previews of the same 12 MP photo stored as
// HEIC (heif-enc, Debian libheif-examples) and AVIF (avifenc, Debian
// libavif-bin) against the baseline JPEG, whole processes, with peak RSS.
// The WebAssembly decoders are compiled by wazero in each process, which
// is part of what a one-shot process pays (a server pays it once).
func heifFigures(bin, dir string, jpg input, runs, q, w, h int) error {
	heicPath := filepath.Join(dir, "photo.heic")
	avifPath := filepath.Join(dir, "photo.avif")
	for _, c := range [][]string{
		{"heif-enc", "-q", "90", "-o", heicPath, jpg.path},
		{"avifenc", "--min", "8", "--max", "16", "-s", "8", "-j", "2", jpg.path, avifPath},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", c[0], err, out)
		}
	}
	inputs := []input{jpg, {"HEIC", heicPath}, {"AVIF", avifPath}}
	fmt.Printf("| %dx%d photo as | file | mediaserver thumbnail, both sizes (median) | ratio to JPEG | peak RSS |\n", w, h)
	fmt.Println("|---|---|---|---|---|")
	var base time.Duration
	for _, f := range inputs {
		var samples []time.Duration
		for i := 0; i <= runs; i++ {
			d, err := timed(oursCmd(bin, dir, f, q, false))
			if err != nil {
				return err
			}
			if i > 0 {
				samples = append(samples, d)
			}
		}
		rss, err := peakRSS(oursCmd(bin, dir, f, q, false))
		if err != nil {
			return err
		}
		st, err := os.Stat(f.path)
		if err != nil {
			return err
		}
		m := median(samples)
		if base == 0 {
			base = m
		}
		fmt.Printf("| %s | %.2f MB | %s | %.1f | %.0f MB |\n", f.name, float64(st.Size())/1e6, ms(m), float64(m)/float64(base), float64(rss)/1e6)
	}
	return nil
}

// makeInputs writes a w x h photo-like baseline JPEG (~4 MB at 4000x3000)
// and a progressive re-encoding of it.
func makeInputs(dir string, w, h int) ([]input, error) {
	img := testimage.Photo(w, h, 1)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "baseline.jpg")
	if err := os.WriteFile(base, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	prog := filepath.Join(dir, "progressive.jpg")
	if out, err := exec.Command("vips", "copy", base, prog+"[interlace,Q=90]").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make progressive JPEG with vips: %v: %s", err, out)
	}
	files := []input{{"baseline", base}, {"progressive", prog}}
	for _, f := range files {
		st, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		fmt.Printf("input %s: %dx%d, %.2f MB\n", f.name, w, h, float64(st.Size())/1e6)
	}
	return files, nil
}

// oursCmd makes both sizes in one mediaserver process; full adds
// --full-decode (image/jpeg instead of jpegscale).
func oursCmd(bin, dir string, f input, q int, full bool) *exec.Cmd {
	args := []string{"thumbnail", "--quality", strconv.Itoa(q), "--box", "240x320", "--box", "320x480"}
	prefix := "ours-"
	if full {
		args = append(args, "--full-decode")
		prefix = "full-"
	}
	return exec.Command(bin, append(args, f.path, filepath.Join(dir, prefix+f.name+"-%s.jpg"))...)
}

func vipsCmd(dir string, f input, b transform.Box, q int) *exec.Cmd {
	out := filepath.Join(dir, fmt.Sprintf("vips-%s-%s.jpg[Q=%d,strip]", f.name, b, q))
	return exec.Command("vipsthumbnail", f.path, "--size", b.String(), "-o", out)
}

// timed runs cmd and returns its wall time.
func timed(cmd *exec.Cmd) (time.Duration, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return d, nil
}

// peakRSS runs cmd under GNU time and returns its peak RSS in bytes. The
// rusage of a child started by Go itself cannot be used: Go starts children
// with vfork semantics, and Linux then counts the parent's high-water RSS
// into the child's. GNU time forks a copy of its own small process instead.
func peakRSS(cmd *exec.Cmd) (int64, error) {
	out, err := os.CreateTemp("", "rss")
	if err != nil {
		return 0, err
	}
	out.Close()
	defer os.Remove(out.Name())
	wrapped := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", out.Name()}, cmd.Args...)...)
	if _, err := timed(wrapped); err != nil {
		return 0, fmt.Errorf("peak RSS (needs GNU time at /usr/bin/time): %w", err)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("peak RSS: empty GNU time output")
	}
	kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	return kb * 1024, err
}

// timeSideBySide times three sides on one input: mediaserver thumbnail
// (DCT-domain decode), mediaserver thumbnail --full-decode, and the sum of
// two vipsthumbnail processes. Run 0 is an untimed warm-up (page cache,
// binaries); after it the order of the sides rotates run by run, so none
// always meets a warmer or busier machine.
func timeSideBySide(bin, dir string, f input, runs, q int) error {
	sides := []func() (time.Duration, error){
		func() (time.Duration, error) { return timed(oursCmd(bin, dir, f, q, false)) },
		func() (time.Duration, error) { return timed(oursCmd(bin, dir, f, q, true)) },
		func() (time.Duration, error) {
			var sum time.Duration
			for _, b := range boxes {
				d, err := timed(vipsCmd(dir, f, b, q))
				if err != nil {
					return 0, err
				}
				sum += d
			}
			return sum, nil
		},
	}
	samples := make([][]time.Duration, len(sides))
	for i := 0; i <= runs; i++ {
		for j := range sides {
			k := (i + j) % len(sides)
			d, err := sides[k]()
			if err != nil {
				return err
			}
			if i > 0 {
				samples[k] = append(samples[k], d)
			}
		}
	}
	oursRSS, err := peakRSS(oursCmd(bin, dir, f, q, false))
	if err != nil {
		return err
	}
	fullRSS, err := peakRSS(oursCmd(bin, dir, f, q, true))
	if err != nil {
		return err
	}
	var vipsRSS int64
	for _, b := range boxes {
		r, err := peakRSS(vipsCmd(dir, f, b, q))
		if err != nil {
			return err
		}
		vipsRSS = max(vipsRSS, r)
	}
	mo, mf, mv := median(samples[0]), median(samples[1]), median(samples[2])
	fmt.Printf("| %s | %s | %s | **%.2f** | %s | %.2f | %.0f / %.0f / %.0f MB |\n", f.name, ms(mv), ms(mo),
		float64(mo)/float64(mv), ms(mf), float64(mf)/float64(mv),
		float64(oursRSS)/1e6, float64(fullRSS)/1e6, float64(vipsRSS)/1e6)
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) }

// compareQuality scores the outputs of the timed runs against a Lanczos
// resize of the full-resolution decode, at each output's own size.
func compareQuality(dir string, f input) error {
	src, err := imaging.Open(f.path)
	if err != nil {
		return err
	}
	for _, b := range boxes {
		row := fmt.Sprintf("| %s | %s |", f.name, b)
		for _, prefix := range []string{"vips", "ours", "full"} {
			sc, err := scorePreview(src, filepath.Join(dir, fmt.Sprintf("%s-%s-%s.jpg", prefix, f.name, b)))
			if err != nil {
				return err
			}
			got, data, ref, s := sc.got, sc.data, sc.ref, sc.ssim
			size := got.Bounds().Size()
			psnr, _ := quality.PSNR(got, ref)
			row += fmt.Sprintf(" %dx%d, %.1f KB, SSIM %.4f, %.1f dB |", size.X, size.Y, float64(len(data))/1000, s, psnr)
		}
		fmt.Println(row)
	}
	return nil
}

// score is a written preview beside the Lanczos reference of its size.
type score struct {
	data     []byte      // the file
	got, ref image.Image // decoded, and the reference from the source
	ssim     float64
}

// scorePreview reads the preview at path and scores it against src
// resized with Lanczos to the preview's size.
func scorePreview(src image.Image, path string) (score, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return score{}, err
	}
	got, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return score{}, fmt.Errorf("%s: %w", path, err)
	}
	size := got.Bounds().Size()
	ref := imaging.Resize(src, size.X, size.Y, imaging.Lanczos)
	s, err := quality.SSIM(got, ref)
	if err != nil {
		return score{}, err
	}
	return score{data: data, got: got, ref: ref, ssim: s}, nil
}

// qualitySweep makes both previews of f at JPEG qualities 75 to 90 and
// scores the 320x480-box one against the Lanczos reference, beside that
// reference itself encoded (by image/jpeg, our encoder) at each quality:
// what the encoding alone costs.
func qualitySweep(bin, dir string, f input) error {
	src, err := imaging.Open(f.path)
	if err != nil {
		return err
	}
	fmt.Printf("| quality (%s, 320x480 box) | preview | SSIM | reference encoded at that quality |\n", f.name)
	fmt.Println("|---|---|---|---|")
	for _, q := range []int{75, 80, 85, 90} {
		if _, err := timed(oursCmd(bin, dir, f, q, false)); err != nil {
			return err
		}
		sc, err := scorePreview(src, filepath.Join(dir, fmt.Sprintf("ours-%s-%s.jpg", f.name, boxes[1])))
		if err != nil {
			return err
		}
		data, ref, s := sc.data, sc.ref, sc.ssim
		size := sc.got.Bounds().Size()
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, ref, &jpeg.Options{Quality: q}); err != nil {
			return err
		}
		refEnc, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			return err
		}
		rs, err := quality.SSIM(refEnc, ref)
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %dx%d, %.1f KB | %.4f | %.1f KB, %.4f |\n", q, size.X, size.Y, float64(len(data))/1000, s, float64(buf.Len())/1000, rs)
	}
	return nil
}

// measureRSS runs a child process that makes previews of 8 files at once and reports its peak RSS. workers 0 is the default pool (NumCPU).
func measureRSS(files []input, workers int, full bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"rss-child", strconv.Itoa(workers), strconv.FormatBool(full)}
	for i := 0; i < 8; i++ {
		args = append(args, files[i%len(files)].path)
	}
	t0 := time.Now()
	rss, err := peakRSS(exec.Command(self, args...))
	if err != nil {
		return err
	}
	d := time.Since(t0)
	label := fmt.Sprintf("default pool (Workers = NumCPU = %d)", runtime.NumCPU())
	if workers > 0 {
		label = fmt.Sprintf("Workers = %d (all 8 decode at once)", workers)
	}
	if full {
		label += ", --full-decode"
	}
	fmt.Printf("| %s | %.0f MB | %s |\n", label, float64(rss)/1e6, ms(d))
	return nil
}

func rssChild(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("want WORKERS FULL FILE...")
	}
	cfg := transform.DefaultConfig()
	var err error
	if cfg.Workers, err = strconv.Atoi(args[0]); err != nil {
		return err
	}
	if cfg.FullJPEGDecode, err = strconv.ParseBool(args[1]); err != nil {
		return err
	}
	args = args[1:]
	tr, err := transform.New(cfg)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(args)-1)
	for _, p := range args[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(p)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			st, _ := f.Stat()
			if _, err := tr.Previews(f, st.Size(), boxes); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
