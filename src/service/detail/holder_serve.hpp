#pragma once
// Internal to src/service/: what the POSIX and Windows holders share once they own their endpoint:
// serving clients until the holder ends, and reading its log for an error.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>

#include "proxy/local_endpoint.hpp"
#include "service/holder.hpp"

namespace cr::service::detail {

// The platform's part (holder_posix.cpp, holder_windows.cpp): takes the endpoint (or finds that
// another holder has it: exit 0), then serve_holder. The holder's exit code.
asio::awaitable<int> hold_endpoint(HolderOptions options);

// Serves the service protocol on `listener` until a client asks the holder to stop, a signal
// (SIGTERM, SIGINT, SIGHUP) does, or it has had no client and no connection for `options.linger`.
// `ready` runs once clients are being accepted. The listener closes first, so that the next client
// starts a new holder, then every connection ends. The holder's exit code.
asio::awaitable<int> serve_holder(std::unique_ptr<proxy::LocalListener> listener, HolderOptions options,
                                  std::function<void()> ready);

// "no connection holder at ENDPOINT: WHY" (Layer::runtime, connect_failed).
runtime::Error no_holder(const HolderPaths& paths, std::string why);

// The last `bytes` of the holder's log, as evidence.
std::string file_tail(const std::filesystem::path& path, std::size_t bytes);

}  // namespace cr::service::detail
