// Package poster gives videos what images have for free: their dimensions
// and duration (ffprobe) and a still frame (ffmpeg) that the image
// pipeline turns into previews. It runs the Debian ffmpeg tools on a local
// file; it knows no HTTP and no storage.
//
// The file is an untrusted upload and ffmpeg a large parser, so the tools
// run fenced in: only containers phones and browsers record are let
// through (checked here, before ffmpeg runs, then forced with -f), only
// the file: protocol is allowed, the child gets an empty environment, a
// wall-clock timeout, and CPU-time and address-space limits. Callers bound
// how many run at once (mediasvc shares the image workers' slots).
package poster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"time"
)

// ErrNoVideo: the file has no video stream the tools can read.
var ErrNoVideo = errors.New("poster: no readable video stream")

// Config names the tools and bounds their work.
type Config struct {
	FFmpeg, FFprobe string        // default "ffmpeg", "ffprobe"
	Timeout         time.Duration // per tool run, wall clock and CPU time; default 20s
	MaxPixels       int64         // refuse larger frames (decompression bombs); 0: no limit
	// MaxMemory is the address-space limit of each tool run (Linux);
	// default 1 GiB, far above what one decoded frame of a phone video
	// needs with one thread.
	MaxMemory int64
}

// Maker probes videos and extracts poster frames.
type Maker struct{ cfg Config }

// New returns a Maker. It fails when the tools are not installed, so the
// server can say so once at start rather than on every upload.
func New(cfg Config) (*Maker, error) {
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.FFprobe == "" {
		cfg.FFprobe = "ffprobe"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = 1 << 30
	}
	for _, bin := range []string{cfg.FFmpeg, cfg.FFprobe} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("poster: %s not found (apt-get install ffmpeg): %w", bin, err)
		}
	}
	return &Maker{cfg: cfg}, nil
}

// Info is what ffprobe says of a video.
type Info struct {
	Width, Height int   // as displayed (rotation applied)
	DurationMS    int64 // 0 when unknown
}

// Probe reads the first video stream's size and the file's duration.
// A file that is not an allowed container is ErrNoVideo, without running
// ffprobe.
func (m *Maker) Probe(ctx context.Context, path string) (Info, error) {
	demuxer, err := sniffContainer(path)
	if err != nil {
		return Info{}, err
	}
	out, err := m.run(ctx, m.cfg.FFprobe, "-v", "error", "-protocol_whitelist", "file", "-f", demuxer, "-threads", "1",
		"-select_streams", "v:0", "-show_entries", "stream=width,height:stream_side_data=rotation:format=duration",
		"-of", "json", "-i", "file:"+path)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %v", ErrNoVideo, err)
	}
	var probe struct {
		Streams []struct {
			Width, Height int
			SideData      []struct{ Rotation float64 } `json:"side_data_list"`
		}
		Format struct{ Duration string }
	}
	if err := json.Unmarshal(out, &probe); err != nil || len(probe.Streams) == 0 || probe.Streams[0].Width <= 0 || probe.Streams[0].Height <= 0 {
		return Info{}, ErrNoVideo
	}
	st := probe.Streams[0]
	info := Info{Width: st.Width, Height: st.Height}
	for _, sd := range st.SideData {
		if r := math.Mod(math.Abs(sd.Rotation), 180); r == 90 {
			info.Width, info.Height = info.Height, info.Width
		}
	}
	if m.cfg.MaxPixels > 0 && int64(info.Width)*int64(info.Height) > m.cfg.MaxPixels {
		return Info{}, fmt.Errorf("%w: %dx%d frames are over the pixel limit", ErrNoVideo, info.Width, info.Height)
	}
	if d, err := strconv.ParseFloat(probe.Format.Duration, 64); err == nil && d > 0 {
		info.DurationMS = int64(d * 1000)
	}
	return info, nil
}

// Frame returns a JPEG of the frame one second in (or the middle of a
// shorter video), rotated as the video is displayed.
func (m *Maker) Frame(ctx context.Context, path string, info Info) ([]byte, error) {
	at := 1.0
	if info.DurationMS > 0 && info.DurationMS < 2000 {
		at = float64(info.DurationMS) / 2000
	}
	demuxer, err := sniffContainer(path)
	if err != nil {
		return nil, err
	}
	// -t bounds how much of the input is read past the seek point.
	out, err := m.run(ctx, m.cfg.FFmpeg, "-v", "error", "-nostdin", "-protocol_whitelist", "file", "-threads", "1",
		"-f", demuxer, "-ss", strconv.FormatFloat(at, 'f', 3, 64), "-t", "2",
		"-i", "file:"+path, "-frames:v", "1", "-an", "-sn", "-dn", "-f", "image2", "-c:v", "mjpeg", "-q:v", "2", "pipe:1")
	if err != nil || len(out) == 0 {
		return nil, fmt.Errorf("%w: no frame: %v", ErrNoVideo, err)
	}
	return out, nil
}

// maxOutput bounds what a tool may write to stdout (a JPEG frame, a few
// hundred bytes of JSON).
const maxOutput = 32 << 20

func (m *Maker) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxOutput, 4096
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No proxy settings, no locale or library paths from the server's
	// environment: nothing for a parser to be steered by.
	cmd.Env = []string{}
	cmd.WaitDelay = time.Second
	err := cmd.Start()
	if err == nil {
		if lerr := limitChild(cmd.Process.Pid, m.cfg.Timeout, m.cfg.MaxMemory); lerr != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s: limit child: %w", bin, lerr)
		}
		err = cmd.Wait()
	}
	if err == nil && stdout.over {
		err = fmt.Errorf("more than %d bytes of output", maxOutput)
	}
	if err != nil {
		msg := stderr.String()
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("%s: %v: %s", bin, err, msg)
	}
	return stdout.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written and notes the rest.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
