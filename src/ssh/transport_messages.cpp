#include "ssh/transport_messages.hpp"

#include <algorithm>

#include "ssh/messages.hpp"

namespace cr::ssh {

std::vector<std::uint8_t> KexInit::encode() const {
  Writer w;
  w.byte(msg::kexinit);
  w.raw(cookie);
  for (const NameList* list :
       {&kex, &host_key, &ciphers_client_to_server, &ciphers_server_to_client, &macs_client_to_server,
        &macs_server_to_client, &compression_client_to_server, &compression_server_to_client,
        &languages_client_to_server, &languages_server_to_client}) {
    w.name_list(*list);
  }
  w.boolean(first_kex_packet_follows);
  w.uint32(0);  // reserved
  return w.take();
}

runtime::Result<KexInit> KexInit::parse(ConstBytes payload) {
  Reader r(payload, "KEXINIT");
  KexInit k;
  r.byte();
  const auto cookie = r.raw(16);
  if (!r.failed()) std::copy(cookie.begin(), cookie.end(), k.cookie.begin());
  for (NameList* list :
       {&k.kex, &k.host_key, &k.ciphers_client_to_server, &k.ciphers_server_to_client, &k.macs_client_to_server,
        &k.macs_server_to_client, &k.compression_client_to_server, &k.compression_server_to_client,
        &k.languages_client_to_server, &k.languages_server_to_client}) {
    *list = r.name_list();
  }
  k.first_kex_packet_follows = r.boolean();
  r.uint32();
  return finish_parse(r, std::move(k));
}

std::vector<std::uint8_t> KexEcdhInit::encode() const {
  Writer w;
  w.byte(msg::kex_ecdh_init);
  if (family == crypto::KexFamily::ecdh) {
    w.string(client_public);
  } else {
    w.mpint(client_public);
  }
  return w.take();
}

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

std::vector<std::uint8_t> NewKeys::encode() const { return {msg::newkeys}; }

std::vector<std::uint8_t> Disconnect::encode() const {
  Writer w;
  w.byte(msg::disconnect);
  w.uint32(reason_code);
  w.string(description);
  w.string(language_tag);
  return w.take();
}

runtime::Result<Disconnect> Disconnect::parse(ConstBytes payload) {
  Reader r(payload, "DISCONNECT");
  r.byte();
  Disconnect disconnect;
  disconnect.reason_code = r.uint32();
  disconnect.description = r.text();
  return finish_parse(r, std::move(disconnect));
}

runtime::Result<Debug> Debug::parse(ConstBytes payload) {
  Reader r(payload, "DEBUG");
  r.byte();
  Debug debug;
  debug.always_display = r.boolean();
  debug.message = r.text();
  return finish_parse(r, std::move(debug));
}

runtime::Result<Unimplemented> Unimplemented::parse(ConstBytes payload) {
  Reader r(payload, "UNIMPLEMENTED");
  r.byte();
  Unimplemented unimplemented;
  unimplemented.packet_sequence_number = r.uint32();
  return finish_parse(r, std::move(unimplemented));
}

runtime::Result<ExtInfo> ExtInfo::parse(ConstBytes payload) {
  Reader r(payload, "EXT_INFO");
  r.byte();
  ExtInfo info;
  const std::uint32_t count = r.uint32();
  for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
    ExtInfo::Extension extension;
    extension.extension_name = r.text();
    extension.extension_value = r.text();
    info.extensions.push_back(std::move(extension));
  }
  return finish_parse(r, std::move(info));
}

std::vector<std::uint8_t> ServiceRequest::encode() const {
  Writer w;
  w.byte(msg::service_request);
  w.string(service_name);
  return w.take();
}

}  // namespace cr::ssh
