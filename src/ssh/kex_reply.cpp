#include "ssh/kex_reply.hpp"

namespace cr::ssh {

runtime::Result<KexReply> parse_kex_reply(ConstBytes payload, crypto::KexFamily family) {
  Reader r(payload, "key exchange reply");
  r.byte();  // the caller waited for this message number
  KexReply reply;
  reply.host_key_blob = r.string();
  reply.server_public = family == crypto::KexFamily::ecdh ? r.string() : r.mpint();
  reply.signature = r.string();
  if (auto parsed = r.finish(true); !parsed) return runtime::fail(std::move(parsed.error()));
  return reply;
}

}  // namespace cr::ssh
