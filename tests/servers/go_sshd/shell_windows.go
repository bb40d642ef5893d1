//go:build windows

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs an exec request's command through cmd.exe, its command line verbatim (Go's
// own argument quoting would escape the quotes cmd.exe needs to see).
func shellCommand(line string) *exec.Cmd {
	comspec := os.Getenv("COMSPEC")
	if comspec == "" {
		comspec = `C:\Windows\System32\cmd.exe`
	}
	command := exec.Command(comspec)
	command.SysProcAttr = &syscall.SysProcAttr{CmdLine: `"` + comspec + `" /d /s /c "` + line + `"`}
	return command
}
