#pragma once
// RFC 4251 section 5 data types: byte, boolean, uint32, uint64, string, mpint, name-list.
//
// Reader keeps the first error and returns empty values after it (like Go's cryptobyte), so a
// parser reads a whole message and checks once: `if (auto e = r.finish(); !e) ...`. The error
// names the message and the offset where it went wrong.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace cr::ssh {

using ConstBytes = std::span<const std::uint8_t>;

class Writer {
 public:
  void byte(std::uint8_t value) { out_.push_back(value); }
  void boolean(bool value) { out_.push_back(value ? 1 : 0); }
  void uint32(std::uint32_t value);
  void uint64(std::uint64_t value);
  void string(ConstBytes value);
  void string(std::string_view value);
  // An unsigned magnitude, big-endian: leading zeros dropped, a 0x00 added when the top bit is set.
  void mpint(ConstBytes magnitude);
  void name_list(const std::vector<std::string>& names);
  void raw(ConstBytes value);

  const std::vector<std::uint8_t>& bytes() const { return out_; }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

class Reader {
 public:
  explicit Reader(ConstBytes data, std::string_view what = "message") : data_(data), what_(what) {}

  std::uint8_t byte();
  bool boolean();
  std::uint32_t uint32();
  std::uint64_t uint64();
  ConstBytes string();
  std::string text();  // a string, as text
  // The magnitude of a non-negative mpint, big-endian without the sign byte. Negative is an error.
  ConstBytes mpint();
  std::vector<std::string> name_list();
  ConstBytes raw(std::size_t count);
  ConstBytes rest();

  std::size_t remaining() const { return failed() ? 0 : data_.size() - offset_; }
  bool failed() const { return error_.has_value(); }
  const std::optional<runtime::Error>& error() const { return error_; }
  // The first error, if any; with expect_end, bytes left over are an error too.
  runtime::Result<void> finish(bool expect_end = false);

 private:
  bool need(std::size_t count, std::string_view field);
  void fail(std::string message);

  ConstBytes data_;
  std::size_t offset_ = 0;
  std::string what_;
  std::optional<runtime::Error> error_;
};

// The end of a message's parse function: the message read, or the reader's first error.
template <class Message>
runtime::Result<Message> finish_parse(Reader& r, Message message) {
  if (auto done = r.finish(); !done) return runtime::fail(std::move(done.error()));
  return message;
}

}  // namespace cr::ssh
