#include "ssh/messages.hpp"

namespace cr::ssh::msg {

std::string_view disconnect_reason_name(std::uint32_t reason) {
  switch (reason) {
    case 1: return "host not allowed to connect";
    case 2: return "protocol error";
    case 3: return "key exchange failed";
    case 4: return "reserved";
    case 5: return "MAC error";
    case 6: return "compression error";
    case 7: return "service not available";
    case 8: return "protocol version not supported";
    case 9: return "host key not verifiable";
    case 10: return "connection lost";
    case 11: return "by application";
    case 12: return "too many connections";
    case 13: return "auth cancelled by user";
    case 14: return "no more auth methods available";
    case 15: return "illegal user name";
  }
  return "unknown reason";
}

}  // namespace cr::ssh::msg
