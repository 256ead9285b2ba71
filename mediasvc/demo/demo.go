// Package demo is a small web page that shows what the media API does: it
// lists a channel's images as previews sized for the screen (srcset of the
// 240x320 and 320x480 previews made at upload, loaded lazily), shows each
// item's placeholder (its ThumbHash, drawn by the page) and then its tiny
// 32x32-box preview, blurred, until the preview arrives, then the bytes
// the preview cost, and uploads through a form.
// It is plain HTML and ES5 JavaScript with no build step, so it runs on old
// phone browsers too, and it talks to the API with CORS requests that carry
// credentials, so it works from any origin. The server mounts it at /demo/
// when demo.enabled is set.
package demo

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Files are the page's files: index.html, demo.js and demo.css.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// contentSecurityPolicy lets the page run only its own script and style,
// and reach any API origin: the API base URL is whatever the user types.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src * data: blob:; connect-src *; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves the page at the root of where it is mounted ("/" is the
// page itself); mount it under a prefix with http.StripPrefix. The page's
// links are relative, so any prefix works.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		// The page's own URL may carry the auth credential in its query:
		// no Referer header takes it to the servers the page talks to.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
