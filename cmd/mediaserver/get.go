package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xmppmedia/mediaserver/mediasvc/mediaclient"
	"github.com/xmppmedia/mediaserver/transform"
)

// runGet implements
//
//	mediaserver get --jid JID (--password P | --password-file F) [--server host:port]
//	  [--url BASE | --component JID] [--box WxH] CHANNEL ID OUT
//
// writing the item (or, with --box, its preview fitting WxH) to OUT ("-":
// standard output). ID may be "avatar".
func runGet(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	box := fs.String("box", "", "fetch the preview that fits `WxH` instead of the file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mediaserver get --jid JID --password P [--box WxH] [flags] CHANNEL ID OUT")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		fs.Usage()
		return errors.New("get: want CHANNEL ID OUT")
	}
	channel, err := channelOf(pos[0])
	if err != nil {
		return err
	}
	id, out := pos[1], pos[2]
	var b transform.Box // zero: the file itself
	if *box != "" {
		if b, err = transform.ParseBox(*box); err != nil {
			return fmt.Errorf("--box: %w", err)
		}
	}

	ctx, stop := signalContext()
	defer stop()
	c, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.Get(ctx, channel, id, b.Width, b.Height)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == "-" {
		_, err := io.Copy(stdout, resp.Body)
		return err
	}
	n, err := writeFileAtomic(out, resp.Body)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s, %s\n", out, mediaclient.HumanBytes(n), resp.Header.Get("Content-Type"))
	return nil
}

// writeFileAtomic writes r to a temporary file beside path and renames it,
// so an interrupted download never leaves a truncated OUT.
func writeFileAtomic(path string, r io.Reader) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}
