#pragma once
// SSH_MSG_KEX_ECDH_REPLY (RFC 5656 section 4) and SSH_MSG_KEXDH_REPLY (RFC 4253 section 8): the
// server's host key K_S, its half of the exchange (Q_S, or f) and its signature over the exchange
// hash. A function of its own so the fuzzer reaches it without a handshake.

#include "runtime/error.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

struct KexReply {
  ConstBytes host_key_blob;  // K_S
  ConstBytes server_public;  // ecdh: Q_S; dh: f, the mpint's magnitude
  ConstBytes signature;
};

// Views into `payload` (message number first). Errors are Layer::transport protocol errors
// naming the field and offset.
runtime::Result<KexReply> parse_kex_reply(ConstBytes payload, crypto::KexFamily family);

}  // namespace cr::ssh
