//go:build !linux

package localxmpp

import "syscall"

// procAttr puts Prosody in its own process group.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
