#pragma once
// Logging in to the test sshd with a public key, before the library reads private key
// files: a fresh ed25519 key held by OpenSSH's own ssh-agent, and an Identity whose signatures the
// agent makes (SSH_AGENTC_SIGN_REQUEST over its socket, blocking: fine in a test). The agent runs
// in the foreground as our child and is stopped and reaped with the fixture.

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ssh/client.hpp"
#include "ssh/client_auth.hpp"
#include "ssh/wire.hpp"
#include "support/connect.hpp"
#include "support/sshd.hpp"

namespace cr::test {

namespace agent_detail {

constexpr std::uint8_t kRequestIdentities = 11;
constexpr std::uint8_t kIdentitiesAnswer = 12;
constexpr std::uint8_t kSignRequest = 13;
constexpr std::uint8_t kSignResponse = 14;

inline void write_fully(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) throw std::runtime_error("writing to ssh-agent failed");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

inline void read_fully(int fd, std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, size);
    if (n <= 0) throw std::runtime_error("reading from ssh-agent failed");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// One request and its answer on a fresh connection to the agent.
inline std::vector<std::uint8_t> ask(const std::string& socket_path, const std::vector<std::uint8_t>& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  socket_path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  std::vector<std::uint8_t> answer;
  try {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      throw std::runtime_error("connecting to ssh-agent failed");
    }
    ssh::Writer framed;
    framed.string(request);
    write_fully(fd, framed.bytes().data(), framed.bytes().size());
    std::uint8_t length[4];
    read_fully(fd, length, 4);
    answer.resize((std::size_t{length[0]} << 24) | (std::size_t{length[1]} << 16) | (std::size_t{length[2]} << 8) | length[3]);
    read_fully(fd, answer.data(), answer.size());
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return answer;
}

class AgentKey final : public ssh::crypto::PrivateKey {
 public:
  AgentKey(std::string socket_path, std::vector<std::uint8_t> blob) : socket_(std::move(socket_path)), blob_(std::move(blob)) {}
  std::string key_type() const override { return "ssh-ed25519"; }
  std::vector<std::uint8_t> public_key_blob() const override { return blob_; }
  std::vector<std::string> signature_algorithms() const override { return {"ssh-ed25519"}; }
  runtime::Result<std::vector<std::uint8_t>> sign(std::string_view, std::span<const std::uint8_t> data) const override {
    ssh::Writer request;
    request.byte(kSignRequest);
    request.string(blob_);
    request.string(data);
    request.uint32(0);
    const auto answer = ask(socket_, request.bytes());
    ssh::Reader r(answer, "agent sign response");
    if (r.byte() != kSignResponse) {
      return runtime::fail(runtime::Errc::protocol_error, runtime::Layer::auth, "ssh-agent refused to sign");
    }
    const auto signature = r.string();
    return std::vector<std::uint8_t>(signature.begin(), signature.end());
  }
  std::string comment() const override { return "test key in ssh-agent"; }

 private:
  std::string socket_;
  std::vector<std::uint8_t> blob_;
};

}  // namespace agent_detail

class AgentLogin {
 public:
  // Any user but root needs to read the authorized_keys file: sshd reads it as that user.
  explicit AgentLogin(std::string user = "root") : user_(std::move(user)) {
    if (getpwnam(user_.c_str()) == nullptr) {
      throw std::runtime_error(fmt::format("there is no user {} to log in as: run scripts/setup as root", user_));
    }
    char templ[] = "/tmp/coder-runtime-agent-XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                           std::filesystem::perms::others_exec);
    socket_ = (dir_ / "agent.sock").string();
    const auto key = dir_ / "id_ed25519";
    if (std::system(fmt::format("ssh-keygen -q -t ed25519 -N '' -C test -f {}", key.string()).c_str()) != 0) {
      throw std::runtime_error("ssh-keygen failed");
    }
    std::filesystem::copy_file(key.string() + ".pub", dir_ / "authorized_keys");
    std::filesystem::permissions(dir_ / "authorized_keys", std::filesystem::perms::others_read,
                                 std::filesystem::perm_options::add);
    start_agent();
    if (std::system(fmt::format("SSH_AUTH_SOCK={} ssh-add -q {} 2>/dev/null", socket_, key.string()).c_str()) != 0) {
      throw std::runtime_error("ssh-add failed");
    }
    const auto answer = agent_detail::ask(socket_, {agent_detail::kRequestIdentities});
    ssh::Reader r(answer, "agent identities");
    if (r.byte() != agent_detail::kIdentitiesAnswer || r.uint32() != 1) throw std::runtime_error("ssh-agent lost the key");
    const auto blob = r.string();
    key_ = std::make_shared<agent_detail::AgentKey>(socket_, std::vector<std::uint8_t>(blob.begin(), blob.end()));
  }
  ~AgentLogin() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  AgentLogin(const AgentLogin&) = delete;
  AgentLogin& operator=(const AgentLogin&) = delete;

  // For the Sshd fixture's extra config.
  std::string sshd_config() const { return fmt::format("AuthorizedKeysFile {}/authorized_keys", dir_.string()); }
  ssh::AuthOptions auth() const {
    ssh::AuthOptions options;
    options.user = user_;
    options.preferred = {"publickey"};
    options.identities.push_back({key_, "test ssh-agent"});
    return options;
  }

 private:
  // `ssh-agent -D` prints its environment lines once its socket listens: reading them is the sign
  // that it is ready.
  void start_agent() {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const std::string socket_arg = socket_;
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Dies with the test process even when a crash skips the destructor; holds none of our pipes.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(out[1], 1);
      ::dup2(null, 2);
      ::execlp("ssh-agent", "ssh-agent", "-D", "-a", socket_arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char c;
    // Both lines, so the agent never writes into a closed pipe.
    while (!(line.find("Agent pid") != std::string::npos && line.back() == '\n') && ::read(out[0], &c, 1) == 1) line += c;
    ::close(out[0]);
    if (line.find("SSH_AUTH_SOCK") == std::string::npos) throw std::runtime_error("ssh-agent did not start: " + line);
  }

  std::string user_;
  std::filesystem::path dir_;
  std::string socket_;
  pid_t pid_ = -1;
  std::shared_ptr<agent_detail::AgentKey> key_;
};

// An sshd that lets the AgentLogin's key in (as root unless told otherwise).
struct LoggedInSshd {
  explicit LoggedInSshd(const std::string& extra_config = "", std::string user = "root")
      : login(std::move(user)), sshd(login.sshd_config() + "\n" + extra_config) {}
  ssh::ClientOptions options() const {
    ssh::ClientOptions options;
    options.auth = login.auth();
    return options;
  }
  std::string proxy_command() const { return sshd.proxy_command(); }
  // Through sshd -i, within connect_through's deadline.
  asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect() const {
    auto command = proxy_command();
    auto client_options = options();
    co_return co_await connect_through(std::move(command), std::move(client_options));
  }

  AgentLogin login;
  Sshd sshd;
};

// sshd signals a session's processes only when the login is not root (for root the privileged
// monitor runs the session itself and refuses), so signal tests log in as this user, which
// scripts/setup creates.
inline constexpr const char* kUnprivilegedUser = "cr-ssh-test";

}  // namespace cr::test
