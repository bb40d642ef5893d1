// go_sshd: an SSH server on golang.org/x/crypto/ssh, the library the Coder workspace agent runs
// on, for interop tests. It serves one connection on stdin/stdout, so a ProxyCommand reaches it
// the way `coder ssh --stdio` reaches the agent: RSA host key, only "none" authentication (like
// the agent) unless -password / -keyboard-interactive ask for more, session channels with exec
// and an exit status, the "sftp" subsystem served by github.com/pkg/sftp as the agent serves it
// (or, with -sftp-command, by a program of the test's), and port forwarding both ways
// (forwarding.go).
//
// Built offline in GOPATH mode from Debian's golang-golang-x-crypto-dev and
// golang-github-pkg-sftp-dev.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// The code the keyboard-interactive challenge expects besides the password.
const oneTimeCode = "424242"

// A program that serves the "sftp" subsystem instead, run as an exec request's command is: unlike
// sshd, which drops a subsystem's stderr, its stderr reaches the client.
var sftpCommand = flag.String("sftp-command", "", "serve the sftp subsystem by this shell command line")

// stdioConn makes stdin/stdout a net.Conn for ssh.NewServerConn.
type stdioConn struct{}

func (stdioConn) Read(p []byte) (int, error)       { return os.Stdin.Read(p) }
func (stdioConn) Write(p []byte) (int, error)      { return os.Stdout.Write(p) }
func (stdioConn) Close() error                     { os.Stdout.Close(); return os.Stdin.Close() }
func (stdioConn) LocalAddr() net.Addr              { return stdioAddr{} }
func (stdioConn) RemoteAddr() net.Addr             { return stdioAddr{} }
func (stdioConn) SetDeadline(time.Time) error      { return nil }
func (stdioConn) SetReadDeadline(time.Time) error  { return nil }
func (stdioConn) SetWriteDeadline(time.Time) error { return nil }

type stdioAddr struct{}

func (stdioAddr) Network() string { return "stdio" }
func (stdioAddr) String() string  { return "stdio" }

func main() {
	hostKeyFile := flag.String("hostkey", "", "PEM RSA host key (default: a new 2048-bit key)")
	rekeyBytes := flag.Uint64("rekey-bytes", 0, "start a key re-exchange after this many bytes (0: x/crypto's default)")
	password := flag.String("password", "", "offer \"password\" authentication with this password (no \"none\")")
	keyboardInteractive := flag.Bool("keyboard-interactive", false,
		"offer \"keyboard-interactive\": prompts for the -password (no echo) and the code "+oneTimeCode+" (echo)")
	flag.Parse()

	config := &ssh.ServerConfig{NoClientAuth: *password == "" && !*keyboardInteractive}
	if *password != "" {
		config.PasswordCallback = func(_ ssh.ConnMetadata, given []byte) (*ssh.Permissions, error) {
			if string(given) != *password {
				return nil, fmt.Errorf("wrong password")
			}
			return nil, nil
		}
	}
	if *keyboardInteractive {
		config.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := challenge("go_sshd", "Answer both prompts.", []string{"Password: ", "One-time code: "}, []bool{false, true})
			if err != nil {
				return nil, err
			}
			if len(answers) != 2 || answers[0] != *password || strings.TrimSpace(answers[1]) != oneTimeCode {
				return nil, fmt.Errorf("wrong answers")
			}
			return nil, nil
		}
	}
	config.RekeyThreshold = *rekeyBytes
	signer, err := loadOrGenerateKey(*hostKeyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_sshd:", err)
		os.Exit(1)
	}
	config.AddHostKey(signer)

	conn, channels, requests, err := ssh.NewServerConn(stdioConn{}, config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_sshd: handshake:", err)
		os.Exit(1)
	}
	defer conn.Close()
	go func() {
		// Why the connection ended, for the test that reads our stderr tail.
		fmt.Fprintln(os.Stderr, "go_sshd: connection ended:", conn.Wait())
	}()
	go serveGlobalRequests(conn, requests)
	for incoming := range channels {
		if incoming.ChannelType() == "direct-tcpip" {
			go serveDirectTcpip(incoming)
			continue
		}
		if incoming.ChannelType() == "direct-streamlocal@openssh.com" {
			go serveDirectStreamlocal(incoming)
			continue
		}
		if incoming.ChannelType() != "session" {
			incoming.Reject(ssh.UnknownChannelType, "only session, direct-tcpip and direct-streamlocal channels")
			continue
		}
		channel, channelRequests, err := incoming.Accept()
		if err != nil {
			continue
		}
		go serveSession(channel, channelRequests)
	}
}

func loadOrGenerateKey(path string) (ssh.Signer, error) {
	if path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return ssh.ParsePrivateKey(pem)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(key)
}

func serveSession(channel ssh.Channel, requests <-chan *ssh.Request) {
	defer channel.Close()
	for request := range requests {
		var command *exec.Cmd
		switch {
		case request.Type == "subsystem" && string(request.Payload) == "\x00\x00\x00\x04sftp" && *sftpCommand != "":
			command = shellCommand(*sftpCommand)
		case request.Type == "subsystem" && string(request.Payload) == "\x00\x00\x00\x04sftp":
			request.Reply(true, nil)
			go ssh.DiscardRequests(requests)
			serveSftp(channel)
			return
		case request.Type == "shell":
			command = loginShell()
		case request.Type == "exec" && len(request.Payload) >= 4:
			length := binary.BigEndian.Uint32(request.Payload)
			if int(length) <= len(request.Payload)-4 {
				command = shellCommand(string(request.Payload[4 : 4+length]))
			}
		}
		if command == nil {
			request.Reply(false, nil)
			continue
		}
		request.Reply(true, nil)
		command.Stdout = channel
		command.Stderr = channel.Stderr()
		stdin, _ := command.StdinPipe()
		status := uint32(255) // like the agent: killed by a signal or not started
		if err := command.Start(); err == nil {
			go func() { io.Copy(stdin, channel); stdin.Close() }()
			go relayToCommand(requests, command.Process)
			err = command.Wait()
			status = 0
			if err != nil {
				status = 255
				if exitErr, ok := err.(*exec.ExitError); ok {
					if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Exited() {
						status = uint32(ws.ExitStatus())
					}
				}
			}
		}
		channel.CloseWrite()
		exitStatus := make([]byte, 4)
		binary.BigEndian.PutUint32(exitStatus, status)
		channel.SendRequest("exit-status", false, exitStatus)
		return
	}
}

// As the Coder agent: the session ends with exit status 0 when the client ends the SFTP session
// (its EOF), 1 when serving failed.
func serveSftp(channel ssh.Channel) {
	status := uint32(1)
	server, err := sftp.NewServer(channel)
	if err == nil {
		if err = server.Serve(); err == io.EOF {
			status = 0
		}
		server.Close()
	}
	if err != nil && err != io.EOF {
		fmt.Fprintln(os.Stderr, "go_sshd: sftp:", err)
	}
	exitStatus := make([]byte, 4)
	binary.BigEndian.PutUint32(exitStatus, status)
	channel.SendRequest("exit-status", false, exitStatus)
}

// As the Coder agent: "signal" requests reach the running command, and a session the client closes
// ends it (its requests stop when the channel closes).
func relayToCommand(requests <-chan *ssh.Request, process *os.Process) {
	for request := range requests {
		if request.Type == "signal" && len(request.Payload) >= 4 {
			length := binary.BigEndian.Uint32(request.Payload)
			if sig, ok := signals[string(request.Payload[4:])]; ok && int(length) == len(request.Payload)-4 {
				process.Signal(sig)
			}
		}
		if request.WantReply {
			request.Reply(false, nil)
		}
	}
	process.Kill()
}

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM,
}
