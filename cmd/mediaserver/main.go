// Command mediaserver is the media server for XMPP channel networks.
//
//	mediaserver serve [--config FILE]          run the server
//	mediaserver version                        print the version
//	mediaserver check-config [--config FILE]   validate the configuration
//	mediaserver thumbnail [--box WxH]... IN OUT   make previews like the server does
//	mediaserver demo                           run a local Prosody and the server, and show an upload
//	mediaserver upload --jid JID --password P CHANNEL FILE...   upload as an XMPP user
//	mediaserver get --jid JID --password P [--box WxH] CHANNEL ID OUT   fetch a (preview of a) item
//	mediaserver healthcheck [--config FILE] [--ready]   exit 0 if the running server is alive (ready)
//
// This is the only place that reads the environment and wires the pieces.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/xmppmedia/mediaserver/configs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mediaserver:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  mediaserver serve [--config FILE]          run the server
  mediaserver version                        print the version
  mediaserver check-config [--config FILE]   validate the configuration and exit non-zero on error
  mediaserver thumbnail [--box WxH]... IN OUT   make previews with the server's pipeline
  mediaserver demo [--once]                  start a local Prosody and the server, upload and preview an image
  mediaserver upload --jid JID --password P [--server host:port] [--url BASE] CHANNEL FILE...
                                             log in to XMPP, upload files (confirming over XEP-0070), print URLs
  mediaserver upload --xep0363 --jid JID --password P [--server host:port] [--component JID] FILE...
                                             share files through the domain's XEP-0363 upload service, print URLs
  mediaserver get --jid JID --password P [--box WxH] [--url BASE] CHANNEL ID OUT
                                             fetch an item or its preview the same way
  mediaserver healthcheck [--config FILE] [--ready] [--url URL]
                                             exit 0 when the running server answers /healthz (/readyz) with 200
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(rest, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "mediaserver", versionString())
		return nil
	case "check-config":
		cfg, path, err := loadConfig("check-config", rest, stderr)
		if err != nil {
			return err
		}
		if path == "" {
			path = "built-in defaults"
		}
		fmt.Fprintf(stdout, "configuration OK (%s; storage %s, metadata %s)\n", path, cfg.Storage.Backend, cfg.Metadata.Driver)
		return nil
	case "thumbnail":
		return runThumbnail(rest)
	case "demo":
		return runDemo(rest, stdout, stderr)
	case "upload":
		return runUpload(rest, stdout, stderr)
	case "get":
		return runGet(rest, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// loadConfig parses --config and loads the file (./mediaserver.yaml when
// present and no flag is given) with the process environment.
func loadConfig(name string, args []string, stderr io.Writer) (configs.Config, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (default ./mediaserver.yaml if present, else built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return configs.Config{}, "", err
	}
	if fs.NArg() > 0 {
		return configs.Config{}, "", fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	cfg, err := configs.Load(configPath(*path), os.Environ())
	if err != nil {
		return cfg, configPath(*path), fmt.Errorf("configuration: %w", err)
	}
	return cfg, configPath(*path), nil
}

// configPath is the file given, else ./mediaserver.yaml when present,
// else "" (the built-in defaults).
func configPath(given string) string {
	if given != "" {
		return given
	}
	if _, err := os.Stat("mediaserver.yaml"); err == nil {
		return "mediaserver.yaml"
	}
	return ""
}
