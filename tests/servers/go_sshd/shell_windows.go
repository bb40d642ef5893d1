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
	command := loginShell()
	command.SysProcAttr = &syscall.SysProcAttr{CmdLine: `"` + command.Path + `" /d /s /c "` + line + `"`}
	return command
}

// loginShell runs a "shell" request: cmd.exe reading its commands from the session's stdin.
func loginShell() *exec.Cmd {
	comspec := os.Getenv("COMSPEC")
	if comspec == "" {
		comspec = `C:\Windows\System32\cmd.exe`
	}
	return exec.Command(comspec)
}
