//go:build !windows

package main

import "os/exec"

// shellCommand runs an exec request's command the way the Coder agent does on Linux.
func shellCommand(line string) *exec.Cmd { return exec.Command("/bin/sh", "-c", line) }

// loginShell runs a "shell" request: the shell reading its commands from the session's stdin.
func loginShell() *exec.Cmd { return exec.Command("/bin/sh") }
