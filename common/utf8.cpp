// UTF-8 helpers (longqa/common/utf8.h).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "longqa/common/utf8.h"

namespace longqa {

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};
  // Length and the allowed range of the second byte (Unicode Table 3-7): the
  // narrower ranges after E0, ED, F0 and F4 exclude overlongs, surrogates and
  // code points past U+10FFFF.
  uint32_t length = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {kReplacementChar, 1, false};  // continuation byte, C0, C1 or F5..FF
  }
  for (uint32_t i = 1; i < length; ++i) {
    // The ill-formed part ends before the first byte that cannot continue it.
    if (pos + i >= text.size()) return {kReplacementChar, i, false};
    const unsigned char b = byte(pos + i);
    if (b < lo || b > hi) return {kReplacementChar, i, false};
    cp = (cp << 6) | (b & 0x3F);
    lo = 0x80, hi = 0xBF;
  }
  return {cp, length, true};
}

size_t invalid_utf8_at(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Char c = decode_utf8(text, pos);
    if (!c.valid) return pos;
    pos += c.length;
  }
  return std::string_view::npos;
}

void validate_utf8(std::string_view text) {
  if (const size_t pos = invalid_utf8_at(text); pos != std::string_view::npos)
    throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(pos));
}

std::string truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && !is_char_boundary(text, static_cast<int64_t>(end))) --end;
  return std::string(text.substr(0, end));
}

Utf8Index::Utf8Index(std::string_view text) {
  char_starts_.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    char_starts_.push_back(static_cast<int64_t>(pos));
    pos += static_cast<unsigned char>(text[pos]) < 0x80 ? 1 : decode_utf8(text, pos).length;
  }
  char_starts_.push_back(static_cast<int64_t>(text.size()));
}

int64_t Utf8Index::char_of_byte(int64_t byte_offset) const {
  if (byte_offset < 0 || byte_offset > char_starts_.back())
    throw std::out_of_range("byte offset " + std::to_string(byte_offset) + " outside the text");
  // The char containing the byte (the end offset maps to num_chars()).
  const auto it = std::upper_bound(char_starts_.begin(), char_starts_.end(), byte_offset);
  return static_cast<int64_t>(it - char_starts_.begin()) - 1;
}

int64_t Utf8Index::byte_of_char(int64_t char_offset) const {
  if (char_offset < 0 || char_offset > num_chars())
    throw std::out_of_range("char offset " + std::to_string(char_offset) + " outside the text");
  return char_starts_[static_cast<size_t>(char_offset)];
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

}  // namespace longqa
