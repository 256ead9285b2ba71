package mediasvc

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// notModified applies If-None-Match, or If-Modified-Since without it.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagListMatches(inm, etag)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !modified.Truncate(time.Second).After(t)
	}
	return false
}

func etagListMatches(list, etag string) bool {
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// ifRangeHolds: a Range is honoured only if If-Range (when sent) still
// names this version.
func ifRangeHolds(r *http.Request, etag string, modified time.Time) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && modified.Truncate(time.Second).Equal(t)
}

// parseRange reads a single "bytes=" range. ok is false when the header is
// not one we honour (multiple ranges, other units, malformed): the whole
// file is sent. satisfiable is false when the range lies outside the file.
func parseRange(h string, size int64) (start, n int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if first == "" { // suffix: the last N bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k < 0 {
			return 0, 0, false, false
		}
		if k == 0 || size == 0 {
			return 0, 0, true, false
		}
		if k > size {
			k = size
		}
		return size - k, k, true, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false, false
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, 0, false, false
		}
		if b > size-1 {
			b = size - 1
		}
	}
	if a >= size {
		return 0, 0, true, false
	}
	return a, b - a + 1, true, true
}
