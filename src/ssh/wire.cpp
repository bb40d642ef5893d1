#include "ssh/wire.hpp"

#include <fmt/format.h>

namespace cr::ssh {

// Out of line: GCC 12 reports a false -Warray-bounds on vector::insert once this is inlined.
void Writer::raw(ConstBytes value) { out_.insert(out_.end(), value.begin(), value.end()); }

void Writer::uint32(std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(value >> shift));
}

void Writer::uint64(std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out_.push_back(static_cast<std::uint8_t>(value >> shift));
}

void Writer::string(ConstBytes value) {
  uint32(static_cast<std::uint32_t>(value.size()));
  raw(value);
}

void Writer::string(std::string_view value) {
  string(ConstBytes(reinterpret_cast<const std::uint8_t*>(value.data()), value.size()));
}

void Writer::mpint(ConstBytes magnitude) {
  std::size_t first = 0;
  while (first < magnitude.size() && magnitude[first] == 0) ++first;
  const auto digits = magnitude.subspan(first);
  const bool pad = !digits.empty() && (digits[0] & 0x80) != 0;
  uint32(static_cast<std::uint32_t>(digits.size() + (pad ? 1 : 0)));
  if (pad) out_.push_back(0);
  raw(digits);
}

void Writer::name_list(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& name : names) {
    if (!joined.empty()) joined += ',';
    joined += name;
  }
  string(joined);
}

void Reader::fail(std::string message) {
  if (error_) return;
  error_ = runtime::Error(runtime::Errc::protocol_error, runtime::Layer::transport,
                          fmt::format("malformed {}: {}", what_, message));
}

bool Reader::need(std::size_t count, std::string_view field) {
  if (failed()) return false;
  if (data_.size() - offset_ >= count) return true;
  fail(fmt::format("{} of {} bytes at offset {} runs past the end ({} bytes)", field, count, offset_, data_.size()));
  return false;
}

std::uint8_t Reader::byte() {
  if (!need(1, "a byte")) return 0;
  return data_[offset_++];
}

bool Reader::boolean() { return byte() != 0; }

std::uint32_t Reader::uint32() {
  if (!need(4, "a uint32")) return 0;
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | data_[offset_++];
  return value;
}

std::uint64_t Reader::uint64() {
  if (!need(8, "a uint64")) return 0;
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | data_[offset_++];
  return value;
}

ConstBytes Reader::string() {
  const std::uint32_t length = uint32();
  if (!need(length, "a string")) return {};
  auto value = data_.subspan(offset_, length);
  offset_ += length;
  return value;
}

std::string Reader::text() {
  auto bytes = string();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

ConstBytes Reader::mpint() {
  auto bytes = string();
  if (!bytes.empty() && (bytes[0] & 0x80) != 0) {
    fail(fmt::format("negative mpint before offset {}", offset_));
    return {};
  }
  while (!bytes.empty() && bytes[0] == 0) bytes = bytes.subspan(1);
  return bytes;
}

std::vector<std::string> Reader::name_list() {
  const std::string joined = text();
  std::vector<std::string> names;
  if (failed() || joined.empty()) return names;
  std::size_t start = 0;
  for (;;) {
    const auto comma = joined.find(',', start);
    names.push_back(joined.substr(start, comma - start));
    if (names.back().empty()) {
      fail(fmt::format("empty name in name-list \"{}\"", runtime::printable(joined, 200)));
      return {};
    }
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

ConstBytes Reader::raw(std::size_t count) {
  if (!need(count, "a field")) return {};
  auto value = data_.subspan(offset_, count);
  offset_ += count;
  return value;
}

ConstBytes Reader::rest() { return raw(remaining()); }

runtime::Result<void> Reader::finish(bool expect_end) {
  if (!failed() && expect_end && offset_ != data_.size()) {
    fail(fmt::format("{} unexpected bytes at the end", data_.size() - offset_));
  }
  if (error_) return runtime::fail(*error_);
  return {};
}

}  // namespace cr::ssh
