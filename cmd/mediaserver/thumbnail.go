package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xmppmedia/mediaserver/transform"
)

// boxList collects repeated --box flags.
type boxList []transform.Box

func (b *boxList) String() string {
	s := make([]string, len(*b))
	for i, x := range *b {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (b *boxList) Set(v string) error {
	box, err := transform.ParseBox(v)
	if err != nil {
		return err
	}
	*b = append(*b, box)
	return nil
}

// runThumbnail implements
//
//	mediaserver thumbnail [--box WxH]... [--quality Q] [--max-pixels N] [--full-decode] IN OUT
//
// with the same pipeline the server uses at upload time: IN is decoded once
// and one preview per box is written. Default boxes: the server's default
// preview sizes (transform.DefaultPreviewSizes).
// IN may be "-" for standard input.
//
// OUT names the outputs:
//   - with one box, OUT is the output file ("-" for standard output);
//   - with several boxes, OUT is a directory (created if missing) that
//     receives one file per box named WxH.jpg or WxH.png, or OUT contains
//     "%s", which is replaced by WxH (e.g. "out-%s.jpg"; the extension given
//     is kept even when the preview is a PNG).
//
// When the preview would be larger than the original (see
// transform.Image.UseOriginal) the original bytes are written instead, as
// the server would serve them.
func runThumbnail(args []string) error {
	fs := flag.NewFlagSet("thumbnail", flag.ContinueOnError)
	var boxes boxList
	defaults := boxList(transform.DefaultPreviewSizes())
	fs.Var(&boxes, "box", "fit inside `WxH` (repeatable; default "+defaults.String()+")")
	cfg := transform.DefaultConfig()
	fs.IntVar(&cfg.JPEGQuality, "quality", cfg.JPEGQuality, "JPEG quality 1..100")
	fs.Int64Var(&cfg.MaxPixels, "max-pixels", cfg.MaxPixels, "refuse images with more pixels")
	fs.BoolVar(&cfg.FullJPEGDecode, "full-decode", false, "decode JPEGs in full (image/jpeg) instead of in the DCT domain")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mediaserver thumbnail [--box WxH]... IN OUT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("thumbnail: want IN and OUT")
	}
	if len(boxes) == 0 {
		boxes = defaults
	}
	in, out := fs.Arg(0), fs.Arg(1)
	if len(boxes) > 1 && out == "-" {
		return errors.New("thumbnail: several boxes cannot all go to standard output; give a directory or a %s pattern")
	}
	tr, err := transform.New(cfg)
	if err != nil {
		return fmt.Errorf("thumbnail: %w", err)
	}

	var src io.Reader = os.Stdin
	var size int64
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return fmt.Errorf("thumbnail: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		src = f
	}
	imgs, err := tr.Previews(src, size, boxes)
	if err != nil {
		return fmt.Errorf("thumbnail %s: %w", in, err)
	}
	for i, img := range imgs {
		name, err := outputName(out, boxes[i], img, len(boxes))
		if err != nil {
			return fmt.Errorf("thumbnail: %w", err)
		}
		data := img.Data
		if img.UseOriginal {
			if in == "-" {
				return fmt.Errorf("thumbnail: box %v: preview not smaller than original; original from stdin not kept", boxes[i])
			}
			if data, err = os.ReadFile(in); err != nil {
				return fmt.Errorf("thumbnail: %w", err)
			}
		}
		if name == "-" {
			_, err = os.Stdout.Write(data)
		} else {
			err = os.WriteFile(name, data, 0o644)
		}
		if err != nil {
			return fmt.Errorf("thumbnail: write %s: %w", name, err)
		}
	}
	return nil
}

// outputName applies the OUT rules documented on runThumbnail.
func outputName(out string, box transform.Box, img transform.Image, n int) (string, error) {
	if n == 1 {
		return out, nil
	}
	if strings.Contains(out, "%s") {
		return strings.ReplaceAll(out, "%s", box.String()), nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	ext := ".jpg"
	switch img.MimeType {
	case "image/png":
		ext = ".png"
	case "image/gif":
		ext = ".gif"
	}
	return filepath.Join(out, box.String()+ext), nil
}
