package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/smithy-go"

	"github.com/xmppmedia/mediaserver/storage"
)

// classify wraps an error from the S3 client with what was being done and,
// where it applies, the storage error kind:
//   - a missing object is storage.ErrNotFound;
//   - the caller giving up (its ctx done) is reported as such, not as an
//     outage;
//   - no response at all (refused, reset, timed out, retries exhausted) and
//     5xx, 429 and 408 responses are storage.ErrUnavailable;
//   - anything else (403, a missing bucket, a bad request) is a plain
//     error: retrying later will not help, so it is not an outage.
func classify(ctx context.Context, op string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3 %s: %w: %w", op, storage.ErrNotFound, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("s3 %s: %w", op, err)
	}
	if isUnavailable(err) {
		return fmt.Errorf("s3 %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("s3 %s: %w", op, err)
}

func isNotFound(err error) bool {
	// GetObject answers NoSuchKey; HEAD responses have no body, so the SDK
	// reports them as NotFound, or just by status.
	if isCode(err, "NoSuchKey") || isCode(err, "NotFound") {
		return true
	}
	status, ok := httpStatus(err)
	return ok && status == http.StatusNotFound && !isCode(err, "NoSuchBucket")
}

func isUnavailable(err error) bool {
	if status, ok := httpStatus(err); ok {
		return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
	}
	var invalid smithy.InvalidParamsError
	if errors.As(err, &invalid) {
		return false
	}
	// No response: the request never got an answer.
	return true
}

// isCode reports whether err is an S3 API error with the given code.
func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

// httpStatus is the status of the response err came from, if there was one.
// The SDK wraps send failures in a response error too, with status 0.
func httpStatus(err error) (int, bool) {
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) && resp.HTTPStatusCode() > 0 {
		return resp.HTTPStatusCode(), true
	}
	return 0, false
}

// idleTimeoutConn fails a read or write that moves no byte for timeout.
// Each write also pushes the read deadline out, so that a pooled connection
// waiting idle in the transport's read loop does not time out under a
// request that was just written to it, and so that the server gets the
// whole timeout to answer after the last byte of an upload.
type idleTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleTimeoutConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *idleTimeoutConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
