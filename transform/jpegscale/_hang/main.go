package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/xmppmedia/mediaserver/transform/jpegscale"
)

func main() {
	names, _ := filepath.Glob("transform/jpegscale/testdata/*.jpg")
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		b, _ := os.ReadFile(names[r.Intn(len(names))])
		for j := 0; j < 1+r.Intn(4); j++ {
			switch r.Intn(3) {
			case 0:
				b[r.Intn(len(b))] = byte(r.Intn(256))
			case 1:
				b = b[:r.Intn(len(b))+1]
			case 2:
				p := r.Intn(len(b))
				b = append(b[:p:p], append([]byte{0xFF, byte(r.Intn(256))}, b[p:]...)...)
			}
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			d, err := jpegscale.NewDecoder(bytes.NewReader(b))
			if err == nil && d.Width()*d.Height() < 4<<20 {
				d.Decode([]int{2, 4, 8}[i%3])
			}
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			os.WriteFile("/tmp/hang.jpg", b, 0o644)
			fmt.Println("hang at", i, "shrink", []int{2, 4, 8}[i%3])
			os.Exit(1)
		}
	}
	fmt.Println("no hang")
}
