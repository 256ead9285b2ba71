// Package ports finds free loopback ports for a server process about to
// start, and waits for the process to accept connections on them: the one
// definition of both for the Prosody the demo and tests run
// (auth/localxmpp) and the servers tests start themselves.
package ports

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

// Free returns n distinct free TCP ports on 127.0.0.1. They are held open
// until all n are found, so none is returned twice; another process may
// still take one before the caller's server binds it, which its start-up
// then reports.
func Free(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		out[i] = l.Addr().(*net.TCPAddr).Port
	}
	return out, nil
}
