// What a client of the service protocol sends, as the server reads it: a frame's kind and body,
// then, for a message, the JSON-RPC request and the params of every method that has them. Any
// bytes must give a frame or a protocol error, a request or its JSON-RPC error, and params or an
// invalid-params error: never a crash or an exception.

#include "service/exec_params.hpp"
#include "service/frame.hpp"
#include "service/json_rpc.hpp"

using namespace cr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto frame = service::parse_frame(runtime::ConstBytes(data, size));
  if (!frame || frame->kind != service::FrameKind::message) return 0;
  auto request = service::parse_request(frame->body);
  if (!request) return 0;
  const auto& params = request->params;
  (void)service::parse_exec_params(params);
  for (const auto kind : {service::FileRequest::read, service::FileRequest::write, service::FileRequest::stat,
                          service::FileRequest::ensure_dir, service::FileRequest::resolve_path}) {
    (void)service::parse_file_params(params, kind);
  }
  (void)service::handle_param(params);
  (void)service::credit_param(params);
  (void)service::resize_params(params);
  return 0;
}
