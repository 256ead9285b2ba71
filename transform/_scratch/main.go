package main

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os"
	"strconv"

	"github.com/disintegration/imaging"
	"github.com/xmppmedia/mediaserver/transform"
	"github.com/xmppmedia/mediaserver/transform/internal/quality"
)

func main() {
	data, _ := os.ReadFile("/tmp/pb/baseline.jpg")
	full, _ := jpeg.Decode(bytes.NewReader(data))
	ref := imaging.Resize(full, 320, 240, imaging.Lanczos)
	for _, q := range os.Args[1:] {
		qi, _ := strconv.Atoi(q)
		cfg := transform.DefaultConfig()
		cfg.JPEGQuality = qi
		tr, _ := transform.New(cfg)
		out, _ := tr.Previews(bytes.NewReader(data), int64(len(data)), []transform.Box{{320, 480}})
		got, _ := jpeg.Decode(bytes.NewReader(out[0].Data))
		s, _ := quality.SSIM(got, ref)
		var rb bytes.Buffer
		jpeg.Encode(&rb, ref, &jpeg.Options{Quality: qi})
		n := rb.Len()
		rj, _ := jpeg.Decode(&rb)
		s2, _ := quality.SSIM(rj, ref)
		fmt.Printf("q%d bytes %d ssim %.4f (reference encoded: %d bytes, ssim %.4f)\n", qi, len(out[0].Data), s, n, s2)
	}
}
