// "stdio relay.exe HOST PORT": relays its stdin and stdout to a TCP connection, the way
// `coder ssh --stdio` relays them to a workspace's agent. scripts/windows runs coder-runtime.exe
// through it, from a folder with spaces, to a Linux sshd on loopback.
//
// Stdin's end half-closes the connection (the server still sends what it has); the connection's
// end ends the program, which is what the client sees as the stream's end.

#include <cstdio>
#include <string>
#include <thread>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

namespace {

void relay_stdin_to(SOCKET socket) {
  const HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
  char buffer[16384];
  for (;;) {
    DWORD got = 0;
    if (!ReadFile(input, buffer, sizeof buffer, &got, nullptr) || got == 0) break;
    for (DWORD sent = 0; sent < got;) {
      const int n = send(socket, buffer + sent, static_cast<int>(got - sent), 0);
      if (n <= 0) return;
      sent += static_cast<DWORD>(n);
    }
  }
  shutdown(socket, SD_SEND);
}

int relay_socket_to_stdout(SOCKET socket) {
  const HANDLE output = GetStdHandle(STD_OUTPUT_HANDLE);
  char buffer[16384];
  for (;;) {
    const int n = recv(socket, buffer, sizeof buffer, 0);
    if (n == 0) return 0;
    if (n < 0) {
      std::fprintf(stderr, "stdio relay: the connection failed (WSA error %d)\n", WSAGetLastError());
      return 1;
    }
    DWORD written = 0;
    if (!WriteFile(output, buffer, static_cast<DWORD>(n), &written, nullptr)) return 0;  // the reader left
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: stdio relay HOST PORT\n");
    return 2;
  }
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return 1;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(argv[1], argv[2], &hints, &addresses) != 0 || !addresses) {
    std::fprintf(stderr, "stdio relay: cannot resolve %s port %s\n", argv[1], argv[2]);
    return 1;
  }
  SOCKET socket = INVALID_SOCKET;
  for (const addrinfo* a = addresses; a && socket == INVALID_SOCKET; a = a->ai_next) {
    socket = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (socket != INVALID_SOCKET && connect(socket, a->ai_addr, static_cast<int>(a->ai_addrlen)) != 0) {
      closesocket(socket);
      socket = INVALID_SOCKET;
    }
  }
  freeaddrinfo(addresses);
  if (socket == INVALID_SOCKET) {
    std::fprintf(stderr, "stdio relay: cannot connect to %s port %s\n", argv[1], argv[2]);
    return 1;
  }
  // Detached: it may sit in a read of stdin when the connection ends, and the process's end
  // ends it.
  std::thread(relay_stdin_to, socket).detach();
  const int status = relay_socket_to_stdout(socket);
  std::fflush(stderr);
  ExitProcess(static_cast<UINT>(status));
}
