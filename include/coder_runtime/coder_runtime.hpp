#pragma once
// coder-runtime's public face: what a host program includes to reach SSH servers and Coder
// workspaces. Everything is in namespace cr (cr::runtime, cr::proxy, cr::ssh, cr::coder); every
// operation is an Asio awaitable that returns cr::runtime::Result<T> (tl::expected<T, Error>).
//
//   find_package(coder-runtime CONFIG REQUIRED)
//   target_link_libraries(app PRIVATE coder-runtime::coder-runtime)
//
// examples/ holds two small host programs built against the installed package.

// Errors, deadlines, logging, the byte stream everything runs over, and the local user's home
// and name (what ssh_config's ~ and %u stand for).
#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "runtime/error.hpp"
#include "runtime/local_user.hpp"
#include "runtime/logging.hpp"
#include "runtime/paths.hpp"

// Streams to a server: a ProxyCommand's process, a TCP connection.
#include "proxy/proxy_command.hpp"
#include "proxy/tcp_listener.hpp"
#include "proxy/tcp_stream.hpp"

// The SSH client: ssh_config, the connection plan, host keys, connections, sessions and channels;
// SFTP on a connection.
#include "ssh/client.hpp"
#include "ssh/client_config.hpp"
#include "ssh/config.hpp"
#include "ssh/connection.hpp"
#include "ssh/identity.hpp"
#include "ssh/known_hosts.hpp"
#include "ssh/session.hpp"
#include "ssh/sftp/client.hpp"

// Coder workspaces: the CLI, starting and reaching a workspace, dialling a plan, commands and
// files (over exec, or over SFTP), the pool of connections.
#include "coder/cli_driver.hpp"
#include "coder/dial.hpp"
#include "coder/forward.hpp"
#include "coder/operations.hpp"
#include "coder/pool.hpp"
#include "coder/sftp_files.hpp"
#include "coder/workspace.hpp"
#include "coder/workspace_connect.hpp"
#include "coder/workspace_plan.hpp"
