package main

import (
	"net/http"

	"github.com/xmppmedia/mediaserver/configs"
	"github.com/xmppmedia/mediaserver/mediasvc/demo"
)

// demoPage is the page mounted at /demo/ when demo.enabled is set, else
// nil (and /demo/ is 404).
func demoPage(cfg configs.Config) http.Handler {
	if !cfg.Demo.Enabled {
		return nil
	}
	return demo.Handler()
}
