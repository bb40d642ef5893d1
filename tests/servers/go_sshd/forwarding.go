package main

// Port forwarding as the Coder agent serves it (gliderlabs/ssh's DirectTCPIPHandler and
// ForwardedTCPHandler, which the agent uses): "direct-tcpip" channels dialled from here, and
// "tcpip-forward" requests that listen here and open a "forwarded-tcpip" channel per connection,
// naming the bind address as the client asked for it and the port listened on. Unix sockets as
// the agent serves them too (OpenSSH's PROTOCOL, section 2.4): "direct-streamlocal@openssh.com"
// channels, and "streamlocal-forward@openssh.com" requests whose connections come back as
// "forwarded-streamlocal@openssh.com" channels.

import (
	"io"
	"net"
	"strconv"
	"sync"

	"golang.org/x/crypto/ssh"
)

// RFC 4254 section 7.2's fields, for direct-tcpip and forwarded-tcpip alike.
type tcpipChannelData struct {
	Host       string
	Port       uint32
	OriginAddr string
	OriginPort uint32
}

type tcpipForwardRequest struct {
	BindAddr string
	BindPort uint32
}

type tcpipForwardSuccess struct {
	BindPort uint32
}

func serveDirectTcpip(incoming ssh.NewChannel) {
	var target tcpipChannelData
	if err := ssh.Unmarshal(incoming.ExtraData(), &target); err != nil {
		incoming.Reject(ssh.ConnectionFailed, "malformed direct-tcpip data: "+err.Error())
		return
	}
	dialAndJoin(incoming, "tcp", net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port))))
}

// dialAndJoin accepts the channel once the connection it asks for is made, and refuses it with
// the reason otherwise.
func dialAndJoin(incoming ssh.NewChannel, network, address string) {
	dialled, err := net.Dial(network, address)
	if err != nil {
		incoming.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	channel, requests, err := incoming.Accept()
	if err != nil {
		dialled.Close()
		return
	}
	go ssh.DiscardRequests(requests)
	join(channel, dialled)
}

type directStreamlocalData struct {
	SocketPath string
	Reserved0  string
	Reserved1  uint32
}

type streamlocalForwardRequest struct {
	SocketPath string
}

type forwardedStreamlocalData struct {
	SocketPath string
	Reserved   string
}

func serveDirectStreamlocal(incoming ssh.NewChannel) {
	var target directStreamlocalData
	if err := ssh.Unmarshal(incoming.ExtraData(), &target); err != nil {
		incoming.Reject(ssh.ConnectionFailed, "malformed direct-streamlocal data: "+err.Error())
		return
	}
	dialAndJoin(incoming, "unix", target.SocketPath)
}

// join copies both ways; each side's end closes the other's sending side, and both close once
// both directions are done.
func join(channel ssh.Channel, conn net.Conn) {
	var done sync.WaitGroup
	done.Add(2)
	go func() {
		io.Copy(channel, conn)
		channel.CloseWrite()
		done.Done()
	}()
	go func() {
		io.Copy(conn, channel)
		if halfClosing, ok := conn.(interface{ CloseWrite() error }); ok {
			halfClosing.CloseWrite()
		}
		done.Done()
	}()
	done.Wait()
	channel.Close()
	conn.Close()
}

// remoteForwards serves the connection's global requests: tcpip-forward and cancel-tcpip-forward;
// anything else wanting a reply is refused.
type remoteForwards struct {
	conn      *ssh.ServerConn
	mu        sync.Mutex
	listeners map[string]net.Listener
}

func serveGlobalRequests(conn *ssh.ServerConn, requests <-chan *ssh.Request) {
	forwards := &remoteForwards{conn: conn, listeners: map[string]net.Listener{}}
	for request := range requests {
		switch request.Type {
		case "tcpip-forward":
			forwards.listen(request)
		case "cancel-tcpip-forward":
			forwards.cancel(request)
		case "streamlocal-forward@openssh.com":
			forwards.listenUnix(request)
		default:
			if request.WantReply {
				request.Reply(false, nil)
			}
		}
	}
	forwards.mu.Lock()
	for _, listener := range forwards.listeners {
		listener.Close()
	}
	forwards.mu.Unlock()
}

func (f *remoteForwards) listen(request *ssh.Request) {
	var asked tcpipForwardRequest
	if err := ssh.Unmarshal(request.Payload, &asked); err != nil {
		request.Reply(false, nil)
		return
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(asked.BindAddr, strconv.Itoa(int(asked.BindPort))))
	if err != nil {
		request.Reply(false, nil)
		return
	}
	_, portText, _ := net.SplitHostPort(listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	f.mu.Lock()
	f.listeners[net.JoinHostPort(asked.BindAddr, strconv.Itoa(int(asked.BindPort)))] = listener
	f.mu.Unlock()
	go func() {
		for {
			accepted, err := listener.Accept()
			if err != nil {
				return
			}
			go f.forward(accepted, asked.BindAddr, uint32(port))
		}
	}()
	request.Reply(true, ssh.Marshal(&tcpipForwardSuccess{uint32(port)}))
}

func (f *remoteForwards) forward(accepted net.Conn, bindAddr string, port uint32) {
	originHost, originPortText, _ := net.SplitHostPort(accepted.RemoteAddr().String())
	originPort, _ := strconv.Atoi(originPortText)
	data := ssh.Marshal(&tcpipChannelData{bindAddr, port, originHost, uint32(originPort)})
	channel, requests, err := f.conn.OpenChannel("forwarded-tcpip", data)
	if err != nil {
		accepted.Close()
		return
	}
	go ssh.DiscardRequests(requests)
	join(channel, accepted)
}

func (f *remoteForwards) cancel(request *ssh.Request) {
	var asked tcpipForwardRequest
	if err := ssh.Unmarshal(request.Payload, &asked); err != nil {
		request.Reply(false, nil)
		return
	}
	key := net.JoinHostPort(asked.BindAddr, strconv.Itoa(int(asked.BindPort)))
	f.mu.Lock()
	listener, found := f.listeners[key]
	delete(f.listeners, key)
	f.mu.Unlock()
	if found {
		listener.Close()
	}
	request.Reply(found, nil)
}

func (f *remoteForwards) listenUnix(request *ssh.Request) {
	var asked streamlocalForwardRequest
	if err := ssh.Unmarshal(request.Payload, &asked); err != nil {
		request.Reply(false, nil)
		return
	}
	listener, err := net.Listen("unix", asked.SocketPath)
	if err != nil {
		request.Reply(false, nil)
		return
	}
	f.mu.Lock()
	f.listeners["unix:"+asked.SocketPath] = listener
	f.mu.Unlock()
	go func() {
		for {
			accepted, err := listener.Accept()
			if err != nil {
				return
			}
			go func() {
				data := ssh.Marshal(&forwardedStreamlocalData{SocketPath: asked.SocketPath})
				channel, requests, err := f.conn.OpenChannel("forwarded-streamlocal@openssh.com", data)
				if err != nil {
					accepted.Close()
					return
				}
				go ssh.DiscardRequests(requests)
				join(channel, accepted)
			}()
		}
	}()
	request.Reply(true, nil)
}
