// UTF-8 decoding with the Unicode "maximal subpart" rule for ill-formed input, encoding,
// validation, char-boundary truncation, and the byte <-> code-point index. No torch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace longqa {

// One char decoded from UTF-8: its code point, its length in bytes, and whether it was
// well-formed; an ill-formed sequence reads as U+FFFD spanning its maximal subpart
// (Unicode's recommended practice, as Python's errors="replace" does).
struct Utf8Char {
  char32_t cp;
  uint32_t length;
  bool valid;
};
constexpr char32_t kReplacementChar = 0xFFFD;
// Decodes the char at text[pos] (pos < text.size()); never reads past the end of text.
Utf8Char decode_utf8(std::string_view text, size_t pos);
// Byte offset of the first ill-formed sequence, or std::string_view::npos.
size_t invalid_utf8_at(std::string_view text);
// Throws std::invalid_argument naming the byte offset of the first ill-formed sequence.
void validate_utf8(std::string_view text);
// Appends the UTF-8 encoding of code point c.
void append_utf8(std::string& out, char32_t c);
// At most max_bytes of text, cut at a char boundary (never inside a multi-byte char).
std::string truncate_utf8(std::string_view text, size_t max_bytes);
// True when byte i of text starts a char (or is at either end).
inline bool is_char_boundary(std::string_view text, int64_t i) {
  return i <= 0 || i >= static_cast<int64_t>(text.size()) || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
}

// Code-point index of each byte offset: for converting byte offsets to the
// character offsets SQuAD-style data use (answer_start counts code points).
class Utf8Index {
 public:
  explicit Utf8Index(std::string_view text);
  // Ill-formed UTF-8 counts one char per maximal subpart, as decode_utf8 reads it.
  int64_t char_of_byte(int64_t byte_offset) const;  // byte_offset must lie on a char boundary or at the end
  int64_t byte_of_char(int64_t char_offset) const;
  int64_t num_chars() const { return static_cast<int64_t>(char_starts_.size()) - 1; }

 private:
  std::vector<int64_t> char_starts_;  // byte offset of each char, plus the total length
};

}  // namespace longqa
