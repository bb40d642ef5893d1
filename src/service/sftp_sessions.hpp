#pragma once
// One SFTP session a shared connection, kept for the files.* requests that go over SFTP. A
// session's start costs a channel open and the subsystem's VERSION, two or three round trips that
// a request on a kept session does not pay; a Windows workspace has no other way to its files.
//
// A session is started again once it has ended (its connection closed, the subsystem exited) or
// once a request on it was cut short: a deadline or a cancellation may mean the server is stuck.

#include <memory>
#include <vector>

#include <asio/awaitable.hpp>

#include "runtime/error.hpp"

namespace cr::ssh {
class Connection;
namespace sftp {
class Client;
}
}  // namespace cr::ssh

namespace cr::service {

class SftpSessions {
 public:
  // The connection's session, started (within a budget of its own) when it has none open.
  asio::awaitable<runtime::Result<std::shared_ptr<ssh::sftp::Client>>> acquire(
      std::shared_ptr<ssh::Connection> connection);
  // A request on `client` ended with `outcome`: one cut short retires the session (it closes once
  // its last user lets go).
  void done(const std::shared_ptr<ssh::sftp::Client>& client, const runtime::Error* outcome);
  // Keeps no session from now on: each closes once its last user lets go, or with its connection.
  void stop();

 private:
  void drop_ended();

  // A session holds its connection, so the connection's address names it as long as it is kept.
  struct Kept {
    const ssh::Connection* connection;
    std::shared_ptr<ssh::sftp::Client> client;
  };
  std::vector<Kept> kept_;
  bool stopped_ = false;
};

}  // namespace cr::service
