// The service protocol's framing and its server's answers to bad input (docs/protocol.md): frames
// round-trip and malformed ones are refused with what is wrong; a server facing a client's
// mistakes answers each with its JSON-RPC error and goes on, or, for a frame it cannot read, says
// so and ends that client alone. The server runs over an in-memory stream pair; its commands run
// through the stand-in Coder CLI on the Go x/crypto/ssh server.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include <csignal>
#include <sys/wait.h>
#include <filesystem>
#include <functional>
#include <sstream>

#include "runtime/memory_stream.hpp"
#include "service/client.hpp"
#include "service/frame.hpp"
#include "service/json_rpc.hpp"
#include "service/server.hpp"
#include "support/coder_standin.hpp"
#include "support/relayed_workspace.hpp"
#include "support/run.hpp"

using namespace cr;
using nlohmann::json;

namespace {

runtime::ConstBytes bytes_of(const std::string& frame) { return runtime::as_bytes(frame).subspan(4); }

// A server over one end of a memory pair; the test writes raw frames to the other and reads what
// comes back.
struct ServedClient {
  std::shared_ptr<service::Server> server;
  std::unique_ptr<runtime::AsyncStream> peer;
};

asio::awaitable<ServedClient> serve_one() {
  auto executor = co_await asio::this_coro::executor;
  auto [ours, theirs] = runtime::make_memory_stream_pair(executor);
  auto server = service::Server::create(executor, {});
  asio::co_spawn(executor, server->serve(std::move(theirs)), asio::detached);
  co_return ServedClient{server, std::move(ours)};
}

asio::awaitable<json> next_message(service::FrameReader& reader) {
  auto frame = co_await reader.read();
  REQUIRE(frame);
  REQUIRE(frame->kind == service::FrameKind::message);
  co_return json::parse(frame->body);
}

// The stdout that arrives until the next answer, and that answer.
asio::awaitable<std::pair<json, std::string>> next_answer(service::FrameReader& reader) {
  std::string out;
  for (;;) {
    auto frame = co_await reader.read();
    REQUIRE(frame);
    if (frame->kind == service::FrameKind::data && frame->stream == service::StreamId::stdout_stream)
      out += frame->body;
    if (frame->kind != service::FrameKind::message) continue;
    auto message = json::parse(frame->body);
    if (message.contains("id")) co_return std::pair{std::move(message), std::move(out)};
  }
}

// Runs `command` on the stand-in's workspace "ws" through the server: the answer and the stdout.
asio::awaitable<std::pair<json, std::string>> exec_on_ws(runtime::AsyncStream& peer, service::FrameReader& reader,
                                                         const test::CoderStandin& standin, int id,
                                                         std::string command) {
  const json request{{"jsonrpc", "2.0"},
                     {"id", id},
                     {"method", "exec"},
                     {"params",
                      {{"handle", id},
                       {"workspace", "ws"},
                       {"coder", test::CoderStandin::program().string()},
                       {"command", std::move(command)},
                       {"timeout_ms", 20000},
                       {"coder_env", {{"CODER_STANDIN_STATE", standin.state().string()}}}}}};
  auto written = co_await runtime::write_all(peer, runtime::as_bytes(service::encode_message(request.dump())));
  REQUIRE(written);
  co_return co_await next_answer(reader);
}

}  // namespace

TEST_CASE("frames: each kind round-trips, and what is malformed is refused with the reason", "[service][frame]") {
  const auto data =
      service::parse_frame(bytes_of(service::encode_data(7, service::StreamId::stderr_stream, "bytes\0x")));
  REQUIRE(data);
  CHECK(data->kind == service::FrameKind::data);
  CHECK(data->handle == 7);
  CHECK(data->stream == service::StreamId::stderr_stream);
  CHECK(data->body == "bytes");
  const auto end = service::parse_frame(bytes_of(service::encode_end(0xffffffff, service::StreamId::stdin_stream)));
  REQUIRE(end);
  CHECK(end->kind == service::FrameKind::end);
  CHECK(end->handle == 0xffffffff);
  const auto message = service::parse_frame(bytes_of(service::encode_message("{}")));
  REQUIRE(message);
  CHECK(message->body == "{}");

  const auto refused = [](std::string kind_and_body) {
    auto parsed = service::parse_frame(runtime::as_bytes(kind_and_body));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == runtime::Errc::protocol_error);
    return parsed.error().message;
  };
  CHECK(refused(std::string("\x07", 1)) == "a frame of unknown kind 7");
  CHECK(refused(std::string("\x01\x00\x00", 3)) == "a 2-byte stream frame, under its 5-byte header");
  CHECK(refused(std::string("\x01\x00\x00\x00\x01\x03", 6)) ==
        "a frame for stream 3, which is none of stdin, stdout, stderr");
  CHECK(refused(std::string("\x02\x00\x00\x00\x01\x00x", 7)) == "an end frame with a payload");
  CHECK(refused(std::string(1, '\x01') + std::string(5, '\0') + std::string(service::kMaxDataPayload + 1, 'x')) ==
        "a data frame of 65537 bytes, over the 65536-byte limit");
}

TEST_CASE(
    "frames: one read may bring several frames and a frame may take several reads, and an end inside one is an error",
    "[service][frame]") {
  test::run([]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto [writer, reader_end] = runtime::make_memory_stream_pair(executor);
    service::FrameReader reader(*reader_end);
    const auto big = std::string(service::kMaxDataPayload, 'b');
    // Three frames in one write, then one frame written a byte at a time, then half a frame.
    const auto together = service::encode_message("{\"n\":1}") +
                          service::encode_data(3, service::StreamId::stdout_stream, "out") +
                          service::encode_end(3, service::StreamId::stdout_stream);
    // Each co_await on a line of its own: GCC 12 miscompiles one inside a condition or a macro.
    auto wrote = co_await runtime::write_all(*writer, runtime::as_bytes(together));
    REQUIRE(wrote);
    const auto split = service::encode_data(4, service::StreamId::stderr_stream, big);
    for (std::size_t at = 0; at < 7; ++at) {
      auto byte = co_await runtime::write_all(*writer, runtime::as_bytes(split).subspan(at, 1));
      REQUIRE(byte);
    }
    auto rest = co_await runtime::write_all(*writer, runtime::as_bytes(split).subspan(7));
    REQUIRE(rest);
    const auto cut = service::encode_message("{\"n\":2}");
    auto part = co_await runtime::write_all(*writer, runtime::as_bytes(cut).first(cut.size() - 2));
    REQUIRE(part);
    REQUIRE(writer->shutdown_send());

    auto first = co_await reader.read();
    REQUIRE(first);
    CHECK(first->body == "{\"n\":1}");
    auto data = co_await reader.read();
    REQUIRE(data);
    CHECK(data->kind == service::FrameKind::data);
    CHECK(data->body == "out");
    auto end = co_await reader.read();
    REQUIRE(end);
    CHECK(end->kind == service::FrameKind::end);
    auto whole = co_await reader.read();
    REQUIRE(whole);
    CHECK(whole->handle == 4);
    CHECK(whole->body == big);
    auto truncated = co_await reader.read();
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().code == runtime::Errc::protocol_error);
    CHECK(truncated.error().message == "the stream ended inside a 8-byte frame");
    co_return true;
  }());
}

TEST_CASE("errors: every code travels by its protocol name and comes back as itself", "[service][json]") {
  for (int i = 0; i <= static_cast<int>(runtime::Errc::internal_error); ++i) {
    const auto code = static_cast<runtime::Errc>(i);
    const auto data = service::error_data(runtime::Error(code, runtime::Layer::channel, "m").with("label", "text"));
    const auto name = data["code"].get<std::string>();
    INFO(name);
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
    const auto back = service::error_from_data(data, "fallback");
    CHECK(back.code == code);
    CHECK(back.layer == runtime::Layer::channel);
    CHECK(back.evidence.size() == 1);
  }
  CHECK(service::error_data(runtime::Error(runtime::Errc::end_of_stream, runtime::Layer::runtime, "m"))["code"] ==
        "end_of_stream");
  // What a holder of an older coder-runtime sends.
  CHECK(service::error_from_data(nlohmann::json{{"code", "timed out"}}, "fallback").code == runtime::Errc::timed_out);
}

TEST_CASE("bytes that are not UTF-8 travel as base64 and come back whole", "[service][json]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (const std::string& text : {std::string("plain"), std::string("caf\xc3\xa9"), std::string("\xff\xfe"), all,
                                  std::string("\xed\xa0\x80"), std::string("\xc0\xaf"), std::string()}) {
    const auto value = service::bytes_value(text);
    auto back = service::bytes_param(value, "x");
    REQUIRE(back);
    CHECK(*back == text);
  }
  CHECK(service::bytes_value("caf\xc3\xa9").is_string());
  CHECK(service::bytes_value("\xc0\xaf").is_object());  // an overlong form is not UTF-8
  CHECK_FALSE(service::bytes_param(json{{"base64", "a"}}, "x"));
  CHECK_FALSE(service::bytes_param(json{{"base64", "a==="}}, "x"));
  CHECK_FALSE(service::bytes_param(json(3), "x"));
}

TEST_CASE("server: a client's mistakes get their JSON-RPC errors and the session goes on", "[service][server]") {
  test::run([]() -> asio::awaitable<bool> {
    auto served = co_await serve_one();
    service::FrameReader reader(*served.peer);
    const auto send = [&](std::string text) -> asio::awaitable<void> {
      const auto frame = service::encode_message(text);
      auto written = co_await runtime::write_all(*served.peer, runtime::as_bytes(frame));
      REQUIRE(written);
    };
    const auto error_code = [](const json& answer) { return answer["error"]["code"].get<int>(); };

    co_await send("not json");
    auto answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kParseError);
    CHECK(answer["id"].is_null());
    co_await send(R"([{"jsonrpc":"2.0","id":1,"method":"initialize"}])");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidRequest);
    co_await send(R"({"jsonrpc":"2.0","id":2,"method":"no.such.method"})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kMethodNotFound);
    CHECK(answer["id"] == 2);
    co_await send(R"({"jsonrpc":"2.0","id":3,"method":"exec","params":{"handle":1,"workspace":"ws"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "exec takes exactly one of params.command, params.argv and params.shell");
    co_await send(R"({"jsonrpc":"2.0","id":31,"method":"exec","params":{"handle":1,"workspace":"ws","shell":true,)"
                  R"("cwd":"/tmp"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK_THAT(answer["error"]["message"].get<std::string>(), Catch::Contains("login shell takes no command"));
    co_await send(R"({"jsonrpc":"2.0","id":32,"method":"exec","params":{"handle":1,"workspace":"ws","shell":false}})");
    answer = co_await next_message(reader);
    CHECK(answer["error"]["message"] == "params.shell must be true (the user's login shell)");
    co_await send(
        R"({"jsonrpc":"2.0","id":4,"method":"exec","params":{"handle":0,"workspace":"ws","command":"true"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    co_await send(
        R"({"jsonrpc":"2.0","id":5,"method":"exec","params":{"handle":1,"workspace":"a b","command":"true"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    co_await send(R"({"jsonrpc":"2.0","id":6,"method":"exec","params":{"handle":1,"workspace":"ws","argv":["a"],)"
                  R"("remote_shell":"cmd"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    co_await send(
        R"({"jsonrpc":"2.0","id":61,"method":"files.write","params":{"handle":2,"workspace":"ws","path":"/x"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] ==
          "params.size is required: the file is replaced only once that many bytes have arrived");
    co_await send(R"({"jsonrpc":"2.0","id":62,"method":"files.stat","params":{"workspace":"ws"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "params.path is required");
    co_await send(R"({"jsonrpc":"2.0","id":63,"method":"files.stat","params":{"workspace":"ws","path":"/x",)"
                  R"("via":"exec","remote_shell":"powershell"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK_THAT(answer["error"]["message"].get<std::string>(), Catch::Contains("needs a POSIX remote shell"));
    co_await send(R"({"jsonrpc":"2.0","id":64,"method":"doctor","params":{"workspace":"ws","stall_budget_ms":0}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "params.stall_budget_ms must be an integer from 100 to 3600000");
    co_await send(
        R"({"jsonrpc":"2.0","id":68,"method":"doctor","params":{"workspace":"ws","stall_budget_ms":3600001}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "params.stall_budget_ms must be an integer from 100 to 3600000");
    co_await send(R"({"jsonrpc":"2.0","id":65,"method":"forward.open","params":{"workspace":"ws"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "params.target must be an object: {\"host\"?, \"port\"}");
    co_await send(
        R"({"jsonrpc":"2.0","id":66,"method":"forward.open","params":{"workspace":"ws","target":{"port":0}}})");
    answer = co_await next_message(reader);
    CHECK(answer["error"]["message"] == "params.target.port must be from 1 to 65535");
    co_await send(R"({"jsonrpc":"2.0","id":67,"method":"forward.close","params":{"id":1}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    CHECK(answer["error"]["message"] == "this client has no forward 1");
    co_await send(R"({"jsonrpc":"2.0","id":7,"method":"exec.signal","params":{"handle":9,"signal":"INT"}})");
    answer = co_await next_message(reader);
    CHECK(error_code(answer) == service::kInvalidParams);
    // Still serving: a good request gets its answer.
    co_await send(R"({"jsonrpc":"2.0","id":"last","method":"initialize","params":{}})");
    answer = co_await next_message(reader);
    CHECK(answer["id"] == "last");
    CHECK(answer["result"]["protocol"] == service::kProtocolVersion);
    CHECK(served.server->clients() == 1);
    co_await served.peer->close();
    co_return true;
  }());
}

TEST_CASE("server: a frame it cannot read ends that client with the reason, not the server", "[service][server]") {
  test::run([]() -> asio::awaitable<bool> {
    auto served = co_await serve_one();
    service::FrameReader reader(*served.peer);
    // A length past the limit: nothing of it is buffered.
    const std::string oversized("\x7f\xff\xff\xff\x00", 5);
    auto written = co_await runtime::write_all(*served.peer, runtime::as_bytes(oversized));
    REQUIRE(written);
    auto said = co_await next_message(reader);
    CHECK(said["method"] == "protocol_error");
    CHECK(said["params"]["message"] == "a frame length of 2147483647, outside 1..1048576");
    auto after = co_await reader.read();
    REQUIRE_FALSE(after);
    CHECK(after.error().code == runtime::Errc::end_of_stream);
    CHECK(served.server->clients() == 0);

    // The server serves the next client as before.
    auto next = co_await serve_one();
    auto client = service::ServiceClient::start(std::move(next.peer), {});
    auto hello = co_await client->call("initialize", json::object());
    REQUIRE(hello);
    CHECK((*hello)["server"] == "coder-runtime 0.1.0");
    co_await client->close();
    co_return true;
  }());
}

TEST_CASE("server: stdin and its end in the same write as the exec request reach the command", "[service][server]") {
  test::CoderStandin standin({{"go_sshd", CODER_RUNTIME_GO_SSHD},
                              {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}});
  test::run([&]() -> asio::awaitable<bool> {
    auto served = co_await serve_one();
    const json request{
        {"jsonrpc", "2.0"},
        {"id", 1},
        {"method", "exec"},
        {"params",
         {{"handle", 7},
          {"workspace", "ws"},
          {"coder", test::CoderStandin::program().string()},
          {"command", "cat; exit 3"},
          {"stdin", true},
          {"coder_env",
           {{"CODER_STANDIN_STATE", standin.state().string()}, {"CODER_STANDIN_GO_SSHD", CODER_RUNTIME_GO_SSHD}}}}}};
    const auto together = service::encode_message(request.dump()) +
                          service::encode_data(7, service::StreamId::stdin_stream, "from stdin\n") +
                          service::encode_end(7, service::StreamId::stdin_stream);
    auto written = co_await runtime::write_all(*served.peer, runtime::as_bytes(together));
    REQUIRE(written);

    service::FrameReader reader(*served.peer);
    auto [answer, out] = co_await next_answer(reader);
    INFO(answer.dump());
    CHECK(out == "from stdin\n");
    CHECK(answer["result"]["exit_code"] == 3);
    co_await served.server->stop();
    co_return true;
  }());
}

TEST_CASE("server: doctor sends each step as it ends, then the diagnosis with the shared connection's step",
          "[service][server][doctor]") {
  test::CoderStandin standin({{"go_sshd", CODER_RUNTIME_GO_SSHD},
                              {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}});
  test::run([&]() -> asio::awaitable<bool> {
    auto served = co_await serve_one();
    const json params{
        {"handle", 3},
        {"workspace", "ws"},
        {"coder", test::CoderStandin::program().string()},
        {"timeout_ms", 15000},
        {"coder_env",
         {{"CODER_STANDIN_STATE", standin.state().string()}, {"CODER_STANDIN_GO_SSHD", CODER_RUNTIME_GO_SSHD}}}};
    const json request{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "doctor"}, {"params", params}};
    auto written =
        co_await runtime::write_all(*served.peer, runtime::as_bytes(service::encode_message(request.dump())));
    REQUIRE(written);
    service::FrameReader reader(*served.peer);
    std::vector<std::string> notified;
    json answer;
    while (answer.is_null()) {
      auto message = co_await next_message(reader);
      if (message.contains("id")) {
        answer = std::move(message);
      } else if (message["method"] == "doctor.step") {
        CHECK(message["params"]["handle"] == 3);
        notified.push_back(message["params"]["step"]["step"]);
      }
    }
    INFO(answer.dump());
    const auto& result = answer["result"];
    CHECK(result["passed"] == true);
    std::vector<std::string> steps;
    for (const auto& step : result["steps"]) {
      steps.push_back(step["step"]);
      CHECK(step["class"] == "none");
    }
    CHECK(steps == std::vector<std::string>{"Coder CLI", "workspace", "ProxyCommand", "SSH banner", "key exchange",
                                            "auth", "test exec", "round trip", "shared"});
    CHECK(notified == steps);  // each announced as it ended
    CHECK_THAT(result["steps"].back()["detail"].get<std::string>(), Catch::Contains("on the shared connection"));

    const json broken{{"jsonrpc", "2.0"},
                      {"id", 2},
                      {"method", "doctor"},
                      {"params", {{"workspace", "ws"}, {"coder", "/nonexistent/coder"}}}};
    written = co_await runtime::write_all(*served.peer, runtime::as_bytes(service::encode_message(broken.dump())));
    REQUIRE(written);
    answer = co_await next_message(reader);
    CHECK(answer["result"]["passed"] == false);
    CHECK(answer["result"]["steps"][0]["step"] == "Coder CLI");
    CHECK(answer["result"]["steps"][0].contains("class"));
    co_await served.server->stop();
    co_return true;
  }());
}

TEST_CASE("server: a forward is its client's: another cannot close it and its client's end closes its port",
          "[service][server][forward]") {
  test::CoderStandin standin({{"go_sshd", CODER_RUNTIME_GO_SSHD},
                              {"workspaces", {{{"name", "ws"}, {"timeline", {{{"status", "running"}}}}}}}});
  test::run([&]() -> asio::awaitable<bool> {
    auto executor = co_await asio::this_coro::executor;
    auto server = service::Server::create(executor, {});
    auto [owner, owner_end] = runtime::make_memory_stream_pair(executor);
    auto [other, other_end] = runtime::make_memory_stream_pair(executor);
    asio::co_spawn(executor, server->serve(std::move(owner_end)), asio::detached);
    asio::co_spawn(executor, server->serve(std::move(other_end)), asio::detached);
    service::FrameReader owner_reader(*owner);
    service::FrameReader other_reader(*other);
    const auto request = [](std::string method, json params) {
      return service::encode_message(
          json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", std::move(method)}, {"params", std::move(params)}}.dump());
    };
    const auto ask = [](runtime::AsyncStream& peer, service::FrameReader& reader,
                        std::string frame) -> asio::awaitable<json> {
      auto written = co_await runtime::write_all(peer, runtime::as_bytes(frame));
      REQUIRE(written);
      co_return co_await next_message(reader);
    };
    const json open{{"workspace", "ws"},
                    {"coder", test::CoderStandin::program().string()},
                    {"coder_env", {{"CODER_STANDIN_STATE", standin.state().string()}}},
                    {"target", {{"port", 9}}}};
    auto frame = request("forward.open", open);
    const auto opened = co_await ask(*owner, owner_reader, std::move(frame));
    INFO(opened.dump());
    const auto id = opened["result"]["id"].get<std::uint64_t>();
    const auto port = opened["result"]["port"].get<std::uint16_t>();
    CHECK(opened["result"]["listen"] == fmt::format("127.0.0.1:{}", port));

    frame = request("forward.close", {{"id", id}});
    const auto refused = co_await ask(*other, other_reader, std::move(frame));
    CHECK(refused["error"]["code"] == service::kInvalidParams);
    frame = request("connections.list", json::object());
    const auto listed = co_await ask(*other, other_reader, std::move(frame));
    CHECK(listed["result"]["forwards"] == json::array({{{"id", id},
                                                        {"destination", "ws.mux--coder"},
                                                        {"listen", fmt::format("127.0.0.1:{}", port)},
                                                        {"target", "127.0.0.1:9"},
                                                        {"connections", 0}}}));

    co_await owner->close();
    while (server->clients() > 1) co_await server->changed().wait();
    frame = request("connections.list", json::object());
    const auto after = co_await ask(*other, other_reader, std::move(frame));
    CHECK(after["result"]["forwards"].empty());
    CHECK(after["result"]["connections"].size() == 1);
    asio::ip::tcp::acceptor again(executor);
    std::error_code ec;
    again.open(asio::ip::tcp::v4(), ec);
    if (!ec) again.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    CHECK_FALSE(ec);
    co_await server->stop();
    co_return true;
  }());
}

namespace {

// Through a fresh server: `echo warm`, then `between` (a fault), then `echo again`, whose answer
// and stdout it returns.
std::pair<json, std::string> exec_twice(const test::CoderStandin& standin, const std::function<void()>& between) {
  return test::run([&]() -> asio::awaitable<std::pair<json, std::string>> {
    auto served = co_await serve_one();
    service::FrameReader reader(*served.peer);
    auto [warm, warm_out] = co_await exec_on_ws(*served.peer, reader, standin, 1, "echo warm");
    INFO(warm.dump());
    CHECK(warm_out == "warm\n");
    between();
    auto again = co_await exec_on_ws(*served.peer, reader, standin, 2, "echo again");
    co_await served.server->stop();
    co_return again;
  }());
}

}  // namespace

// The warm connection's proxy is gone before the command's request is written: the request never
// leaves, so the command runs once more on a fresh connection. Before, the client got the proxy's
// end as the command's error.
TEST_CASE("server: a command whose shared connection died unseen runs on a fresh connection",
          "[service][server][fault]") {
  const test::RelayedWorkspace workspace;
  test::CoderStandin standin(workspace.scenario());
  const auto [again, again_out] = exec_twice(standin, [&workspace] { workspace.kill_relay(); });
  INFO(again.dump());
  CHECK(again["result"]["exit_code"] == 0);
  CHECK(again_out == "again\n");
  CHECK(standin.count_calls("ssh") == 2);
}

// The relay passes the command's request on and exits as the answer comes: the command may have
// run, so it is not run again and its error says what ended the connection.
TEST_CASE("server: a command whose request left is not run again when its connection ends",
          "[service][server][fault]") {
  const test::RelayedWorkspace workspace;
  test::CoderStandin standin(workspace.scenario());
  const auto [again, again_out] = exec_twice(standin, [&workspace] { workspace.fault_once("exit"); });
  INFO(again.dump());
  REQUIRE(again.contains("error"));
  const auto& data = again["error"]["data"];
  CHECK(data["layer"] == "proxy");
  CHECK_THAT(data.dump(), Catch::Contains("exiting mid-stream (injected fault)"));
  CHECK_THAT(data.dump(), !Catch::Contains("not run"));
  const auto records = workspace.records();
  REQUIRE(records.size() == 1);
  CHECK(records[0]["fault"] == "exit");
  CHECK(standin.count_calls("ssh") == 1);
}
