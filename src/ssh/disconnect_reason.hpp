#pragma once
// SSH_MSG_DISCONNECT's reason codes (RFC 4253 section 11.1), sent by us and named when a server
// sends one.

#include <cstdint>
#include <string_view>

namespace cr::ssh {

enum class DisconnectReason : std::uint32_t {
  host_not_allowed_to_connect = 1,
  protocol_error = 2,
  key_exchange_failed = 3,
  reserved = 4,
  mac_error = 5,
  compression_error = 6,
  service_not_available = 7,
  protocol_version_not_supported = 8,
  host_key_not_verifiable = 9,
  connection_lost = 10,
  by_application = 11,
  too_many_connections = 12,
  auth_cancelled_by_user = 13,
  no_more_auth_methods_available = 14,
  illegal_user_name = 15,
};

// "protocol error", "by application"...; "unknown reason" for a code outside the RFC's list.
std::string_view disconnect_reason_name(std::uint32_t reason);

}  // namespace cr::ssh
