// Package portwait waits for a server process that was just started to
// accept connections: the one definition of it for the Prosody the demo
// and tests run (auth/localxmpp) and the servers tests start themselves.
package portwait

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrExited: the process ended before every port accepted connections.
var ErrExited = errors.New("the process exited")

// Wait returns once every addr accepts a TCP connection, or an error when
// exited is closed first (ErrExited) or ctx ends. It polls every 20 ms: a
// server opens its ports once, early, so polling costs little and needs
// no help from the process.
func Wait(ctx context.Context, exited <-chan struct{}, addrs ...string) error {
	for _, addr := range addrs {
		for {
			c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				return fmt.Errorf("before opening %s: %w", addr, ErrExited)
			case <-ctx.Done():
				return fmt.Errorf("port %s not open: %w", addr, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
