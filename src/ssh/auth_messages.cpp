#include "ssh/auth_messages.hpp"

#include "ssh/messages.hpp"

namespace cr::ssh {

namespace {

// Prompts past this many are left unread: a count from the server sizes nothing of ours.
constexpr std::uint32_t kMostPrompts = 64;

void write_request_head(Writer& w, std::string_view user_name, std::string_view service_name,
                        std::string_view method_name) {
  w.byte(msg::userauth_request);
  w.string(user_name);
  w.string(service_name);
  w.string(method_name);
}

// The publickey request up to its signature, as sent and as signed.
void write_publickey_request(Writer& w, const UserauthRequestPublickey& request) {
  write_request_head(w, request.user_name, request.service_name, "publickey");
  w.boolean(true);
  w.string(request.public_key_algorithm_name);
  w.string(request.public_key_blob);
}

}  // namespace

std::vector<std::uint8_t> UserauthRequestNone::encode() const {
  Writer w;
  write_request_head(w, user_name, service_name, "none");
  return w.take();
}

std::vector<std::uint8_t> UserauthRequestPassword::encode() const {
  Writer w;
  write_request_head(w, user_name, service_name, "password");
  w.boolean(false);
  w.string(password);
  return w.take();
}

std::vector<std::uint8_t> UserauthRequestPublickey::encode() const {
  Writer w;
  write_publickey_request(w, *this);
  w.string(signature);
  return w.take();
}

std::vector<std::uint8_t> UserauthRequestPublickey::signed_data(ConstBytes session_identifier) const {
  Writer w;
  w.string(session_identifier);
  write_publickey_request(w, *this);
  return w.take();
}

std::vector<std::uint8_t> UserauthRequestKeyboardInteractive::encode() const {
  Writer w;
  write_request_head(w, user_name, service_name, "keyboard-interactive");
  w.string(language_tag);
  w.string(submethods);
  return w.take();
}

runtime::Result<UserauthFailure> UserauthFailure::parse(ConstBytes payload) {
  Reader r(payload, "USERAUTH_FAILURE");
  r.byte();
  UserauthFailure failure;
  failure.authentications_that_can_continue = r.name_list();
  failure.partial_success = r.boolean();
  return finish_parse(r, std::move(failure));
}

runtime::Result<UserauthBanner> UserauthBanner::parse(ConstBytes payload) {
  Reader r(payload, "USERAUTH_BANNER");
  r.byte();
  UserauthBanner banner;
  banner.message = r.text();
  return finish_parse(r, std::move(banner));
}

runtime::Result<UserauthInfoRequest> UserauthInfoRequest::parse(ConstBytes payload) {
  Reader r(payload, "USERAUTH_INFO_REQUEST");
  r.byte();
  UserauthInfoRequest request;
  request.name = r.text();
  request.instruction = r.text();
  request.language_tag = r.text();
  const std::uint32_t num_prompts = r.uint32();
  for (std::uint32_t i = 0; i < num_prompts && !r.failed() && i < kMostPrompts; ++i) {
    Prompt prompt;
    prompt.text = r.text();
    prompt.echo = r.boolean();
    request.prompts.push_back(std::move(prompt));
  }
  return finish_parse(r, std::move(request));
}

std::vector<std::uint8_t> UserauthInfoResponse::encode() const {
  Writer w;
  w.byte(msg::userauth_info_response);
  w.uint32(static_cast<std::uint32_t>(responses.size()));
  for (const auto& response : responses) w.string(response);
  return w.take();
}

}  // namespace cr::ssh
