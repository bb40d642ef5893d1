#include "runtime/error.hpp"

#include <fmt/format.h>

namespace cr::runtime {

std::string_view to_string(Layer layer) {
  switch (layer) {
    case Layer::runtime:
      return "runtime";
    case Layer::proxy:
      return "proxy";
    case Layer::network:
      return "network";
    case Layer::banner:
      return "banner";
    case Layer::transport:
      return "transport";
    case Layer::kex:
      return "key exchange";
    case Layer::auth:
      return "auth";
    case Layer::channel:
      return "channel";
    case Layer::coder:
      return "coder";
    case Layer::cli:
      return "cli";
    case Layer::config:
      return "config";
    case Layer::sftp:
      return "sftp";
  }
  return "unknown";
}

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::end_of_stream:
      return "end of stream";
    case Errc::timed_out:
      return "timed out";
    case Errc::cancelled:
      return "cancelled";
    case Errc::io_error:
      return "I/O error";
    case Errc::spawn_failed:
      return "spawn failed";
    case Errc::resolve_failed:
      return "resolve failed";
    case Errc::connect_failed:
      return "connect failed";
    case Errc::invalid_argument:
      return "invalid argument";
    case Errc::protocol_error:
      return "protocol error";
    case Errc::stream_closed:
      return "stream closed";
    case Errc::refused:
      return "refused";
    case Errc::not_found:
      return "not found";
    case Errc::permission_denied:
      return "permission denied";
    case Errc::internal_error:
      return "internal error";
  }
  return "unknown";
}

const Evidence* Error::find_evidence(std::string_view label) const {
  for (const auto& e : evidence) {
    if (e.label == label) return &e;
  }
  return nullptr;
}

std::string Error::summary() const {
  std::string line = fmt::format("{}: {}", to_string(layer), message);
  if (system) line += fmt::format(" ({})", system.message());
  for (const auto& e : evidence) {
    // One line: multi-line evidence (stderr) is shown with its line breaks escaped.
    line += fmt::format("; {}: {}", e.label, printable(e.text, 300));
  }
  return line;
}

std::string Error::detailed() const {
  std::string out = fmt::format("layer:   {}\ncause:   {} ({})\n", to_string(layer), message, to_string(code));
  if (system) out += fmt::format("system:  {} [{}:{}]\n", system.message(), system.category().name(), system.value());
  for (const auto& e : evidence) out += fmt::format("{}:\n  {}\n", e.label, printable(e.text, 4096));
  for (const auto& c : context) out += fmt::format("while:   {}\n", c);
  return out;
}

std::string exception_text(std::exception_ptr thrown) {
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
  }
  return "an exception that is not a std::exception";
}

std::string printable(std::string_view bytes, std::size_t max_bytes) {
  std::string out;
  const std::size_t shown = std::min(bytes.size(), max_bytes);
  out.reserve(shown);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += fmt::format("\\x{:02x}", c);
        }
    }
  }
  if (bytes.size() > shown) out += fmt::format("... ({} more bytes)", bytes.size() - shown);
  return out;
}

}  // namespace cr::runtime

namespace cr::runtime {

std::string hex_preview(std::span<const std::uint8_t> bytes, std::size_t max_bytes) {
  const std::size_t shown = std::min(bytes.size(), max_bytes);
  std::string out;
  out.reserve(2 * shown + 24);
  for (std::size_t i = 0; i < shown; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out + fmt::format("{} ({} bytes)", shown < bytes.size() ? "..." : "", bytes.size());
}

}  // namespace cr::runtime
