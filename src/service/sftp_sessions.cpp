#include "service/sftp_sessions.hpp"

#include <algorithm>
#include <chrono>
#include <string>

#include "runtime/deadline.hpp"
#include "ssh/connection.hpp"
#include "ssh/sftp/client.hpp"

namespace cr::service {
namespace {

constexpr auto kStartBudget = std::chrono::seconds(30);

}  // namespace

asio::awaitable<runtime::Result<std::shared_ptr<ssh::sftp::Client>>> SftpSessions::acquire(
    std::shared_ptr<ssh::Connection> connection) {
  drop_ended();
  const auto same_connection = [&connection](const Kept& kept) { return kept.connection == connection.get(); };
  if (auto found = std::find_if(kept_.begin(), kept_.end(), same_connection); found != kept_.end()) {
    co_return found->client;
  }
  auto starting = ssh::sftp::Client::start(*connection);
  std::string what = "starting SFTP";
  auto started = co_await runtime::with_deadline(runtime::Deadline::after(kStartBudget), std::move(starting),
                                                 runtime::Layer::sftp, std::move(what));
  if (!started) co_return runtime::fail(std::move(started.error()));
  // Another request may have started one meanwhile: that one is kept, this one serves its request.
  if (!stopped_ && std::none_of(kept_.begin(), kept_.end(), same_connection)) {
    kept_.push_back(Kept{connection.get(), *started});
  }
  co_return std::move(*started);
}

void SftpSessions::done(const std::shared_ptr<ssh::sftp::Client>& client, const runtime::Error* outcome) {
  const bool cut_short =
      outcome && (outcome->code == runtime::Errc::cancelled || outcome->code == runtime::Errc::timed_out);
  if (cut_short) std::erase_if(kept_, [&client](const Kept& kept) { return kept.client == client; });
  drop_ended();
}

void SftpSessions::stop() {
  stopped_ = true;
  kept_.clear();
}

void SftpSessions::drop_ended() {
  std::erase_if(kept_, [](const Kept& kept) { return !kept.client->is_open(); });
}

}  // namespace cr::service
