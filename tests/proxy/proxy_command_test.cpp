#include <catch2/catch.hpp>

#include "proxy/proxy_command.hpp"

using namespace cr;

TEST_CASE("ProxyCommand tokens expand as in ssh_config(5)", "[proxy]") {
  const proxy::ProxyTokens tokens{"ws.mux--coder", "22", "coder", "ws"};
  auto expanded = proxy::expand_proxy_command(
      R"("C:\Program Files\Coder\coder.exe" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "%h" %p %r %n 100%%)",
      tokens);
  REQUIRE(expanded);
  CHECK(
      *expanded ==
      R"("C:\Program Files\Coder\coder.exe" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "ws.mux--coder" 22 coder ws 100%)");
}

TEST_CASE("%n falls back to the host when no original name was given", "[proxy]") {
  auto expanded = proxy::expand_proxy_command("nc %n %p", {"example", "2222", "", ""});
  REQUIRE(expanded);
  CHECK(*expanded == "nc example 2222");
}

TEST_CASE("an unknown token or a lone % is refused with its position", "[proxy]") {
  auto unknown = proxy::expand_proxy_command("coder ssh %x", {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == runtime::Errc::invalid_argument);
  CHECK_THAT(unknown.error().message, Catch::Contains("%x at offset 10"));
  auto trailing = proxy::expand_proxy_command("coder ssh 100%", {});
  REQUIRE_FALSE(trailing);
  CHECK_THAT(trailing.error().message, Catch::Contains("lone '%'"));
}

TEST_CASE("cmd.exe gets the ProxyCommand verbatim inside one pair of quotes", "[proxy]") {
  const std::string command =
      R"("C:\Program Files\Coder\coder.exe" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "ws.mux--coder")";
  CHECK(
      proxy::windows_shell_command_line(R"(C:\Windows\system32\cmd.exe)", command) ==
      R"("C:\Windows\system32\cmd.exe" /d /s /c ""C:\Program Files\Coder\coder.exe" "ssh" "--stdio" "--hostname-suffix" "mux--coder" "ws.mux--coder"")");
}
