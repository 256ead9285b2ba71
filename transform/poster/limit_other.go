//go:build !linux

package poster

import "time"

// limitChild sets no resource limits outside Linux: the tools still run
// under the wall-clock timeout. The server is deployed on Linux.
func limitChild(int, time.Duration, int64) error { return nil }
