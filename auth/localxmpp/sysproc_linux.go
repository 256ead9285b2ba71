package localxmpp

import "syscall"

// procAttr puts Prosody in its own process group (so a terminal's signals
// go to the test binary only) and has the kernel kill it when the test
// binary dies, so a crashed or timed-out test leaves no server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
