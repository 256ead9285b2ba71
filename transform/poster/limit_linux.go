package poster

import (
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// limitChild caps a started tool's CPU time (it gets SIGXCPU, then SIGKILL
// a second later) and address space (allocations beyond fail, so a
// decompression bomb ends in an error rather than in the OOM killer).
//
// Set with prlimit(2) right after start rather than by a shell's ulimit
// before exec: the release image has no shell, and the child spends its
// first milliseconds loading its libraries, before it reads a byte of the
// upload, so everything an upload can make it do happens under the limits.
func limitChild(pid int, cpu time.Duration, memory int64) error {
	secs := uint64(math.Ceil(cpu.Seconds()))
	if err := unix.Prlimit(pid, unix.RLIMIT_CPU, &unix.Rlimit{Cur: secs, Max: secs + 1}, nil); err != nil {
		return fmt.Errorf("RLIMIT_CPU: %w", err)
	}
	as := uint64(memory)
	if err := unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: as, Max: as}, nil); err != nil {
		return fmt.Errorf("RLIMIT_AS: %w", err)
	}
	return nil
}
