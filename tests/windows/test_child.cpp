// "test child.exe": the Windows tests' child process, in a folder whose name has spaces.
//   cat                       stdin to stdout until stdin ends, then exit 0
//   fail <code> <text>        <text> and a newline on stderr, exit <code> at once
//   bulk-stderr <n>           n times 'a' then "END\n" on stderr, exit 1
//   ignore-stdin              "ready <pid>\n" on stdout, then run until killed, whatever stdin does
//   args <arg>...             its arguments as the C runtime parsed them, joined by '|'
//   handle <hex>              "inherited" if <hex> is a signalled handle here, else "clean"
#include <windows.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

void write_all(HANDLE out, const std::string& text) {
  DWORD offset = 0;
  while (offset < text.size()) {
    DWORD written = 0;
    if (!WriteFile(out, text.data() + offset, static_cast<DWORD>(text.size() - offset), &written, nullptr)) return;
    offset += written;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
  if (mode == "cat") {
    static char buffer[65536];
    for (;;) {
      DWORD got = 0;
      if (!ReadFile(in, buffer, sizeof buffer, &got, nullptr) || got == 0) return 0;
      write_all(out, std::string(buffer, got));
    }
  }
  if (mode == "fail" && argc > 3) {
    write_all(err, std::string(argv[3]) + "\n");
    return std::atoi(argv[2]);
  }
  if (mode == "bulk-stderr" && argc > 2) {
    write_all(err, std::string(static_cast<std::size_t>(std::atoi(argv[2])), 'a') + "END\n");
    return 1;
  }
  if (mode == "ignore-stdin") {
    write_all(out, "ready " + std::to_string(GetCurrentProcessId()) + "\n");
    for (;;) Sleep(1000);
  }
  if (mode == "args") {
    std::string joined;
    for (int i = 2; i < argc; ++i) joined += (i > 2 ? "|" : "") + std::string(argv[i]);
    write_all(out, joined + "\n");
    return 0;
  }
  if (mode == "handle" && argc > 2) {
    const auto value = static_cast<std::uintptr_t>(std::strtoull(argv[2], nullptr, 16));
    HANDLE handle = reinterpret_cast<HANDLE>(value);
    DWORD flags = 0;
    const bool inherited = GetHandleInformation(handle, &flags) && WaitForSingleObject(handle, 0) == WAIT_OBJECT_0;
    write_all(out, inherited ? "inherited\n" : "clean\n");
    return 0;
  }
  write_all(err, "test child: unknown mode '" + mode + "'\n");
  return 2;
}
