//go:build unix

package lambda

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes the process the leader of a new process group, so
// that killProcessGroup also reaches its children.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGKILL to the process group led by pid.
func killProcessGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
