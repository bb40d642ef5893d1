// The SFTP reply parser fed what a server could send: framed packets one after another, the first
// read as VERSION and the rest as replies, an EXTENDED_REPLY's data also as the statvfs and limits
// replies it may carry. Whatever arrives is parsed or refused with an error; nothing reads past
// the input or allocates by a count the input cannot back.

#include <cstdint>
#include <variant>

#include "ssh/sftp/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cr::ssh::sftp;
  cr::ssh::ConstBytes input(data, size);
  bool first = true;
  while (input.size() >= 4) {
    auto length = packet_length(input.first(4));
    if (!length || input.size() - 4 < *length) break;
    const auto packet = input.subspan(4, *length);
    input = input.subspan(4 + *length);
    if (first) {
      first = false;
      [[maybe_unused]] auto version = parse_version(packet);
      continue;
    }
    auto reply = parse_reply(packet);
    if (!reply) continue;
    if (auto* extended = std::get_if<ExtendedReply>(&reply->body)) {
      [[maybe_unused]] auto statvfs = parse_statvfs(extended->data);
      [[maybe_unused]] auto limits = parse_limits(extended->data);
    }
  }
  return 0;
}
