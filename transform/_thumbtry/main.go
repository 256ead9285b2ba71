package main

import (
	"fmt"
	"os"
)

func main() {
	if err := runThumbnail(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
