#pragma once
// Message numbers (RFC 4250 section 4.1).

#include <cstdint>

namespace cr::ssh::msg {

inline constexpr std::uint8_t disconnect = 1;
inline constexpr std::uint8_t ignore = 2;
inline constexpr std::uint8_t unimplemented = 3;
inline constexpr std::uint8_t debug = 4;
inline constexpr std::uint8_t service_request = 5;
inline constexpr std::uint8_t service_accept = 6;
inline constexpr std::uint8_t ext_info = 7;
inline constexpr std::uint8_t kexinit = 20;
inline constexpr std::uint8_t newkeys = 21;
inline constexpr std::uint8_t kex_ecdh_init = 30;   // also SSH_MSG_KEXDH_INIT
inline constexpr std::uint8_t kex_ecdh_reply = 31;  // also SSH_MSG_KEXDH_REPLY

inline constexpr std::uint8_t userauth_request = 50;
inline constexpr std::uint8_t userauth_failure = 51;
inline constexpr std::uint8_t userauth_success = 52;
inline constexpr std::uint8_t userauth_banner = 53;
inline constexpr std::uint8_t userauth_info_request = 60;  // also PASSWD_CHANGEREQ for "password"
inline constexpr std::uint8_t userauth_info_response = 61;
inline constexpr std::uint8_t global_request = 80;
inline constexpr std::uint8_t request_success = 81;
inline constexpr std::uint8_t request_failure = 82;
inline constexpr std::uint8_t channel_open = 90;
inline constexpr std::uint8_t channel_open_confirmation = 91;
inline constexpr std::uint8_t channel_open_failure = 92;
inline constexpr std::uint8_t channel_window_adjust = 93;
inline constexpr std::uint8_t channel_data = 94;
inline constexpr std::uint8_t channel_extended_data = 95;
inline constexpr std::uint8_t channel_eof = 96;
inline constexpr std::uint8_t channel_close = 97;
inline constexpr std::uint8_t channel_request = 98;
inline constexpr std::uint8_t channel_success = 99;
inline constexpr std::uint8_t channel_failure = 100;

// Messages 20-49 belong to the key exchange (RFC 4253 section 7.1: nothing else is sent during one).
inline bool is_kex_message(std::uint8_t type) { return type >= 20 && type <= 49; }

}  // namespace cr::ssh::msg
