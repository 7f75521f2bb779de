// Python 3 str semantics on code points, as the official QA evaluation scripts
// rely on them: str.lower(), str.isspace(), str.split(), str.strip() and the
// re module's Unicode \w. Character properties come from utf8proc; see
// python_text.cpp for how each Python rule maps onto them.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace longqa::eval::detail {

// Strict UTF-8 -> code points; throws std::invalid_argument naming `what`.
std::u32string decode_utf8(std::string_view text, std::string_view what);
// Code points -> UTF-8. Lone surrogates (only an HTML character reference such as
// "&#xD800;" can produce one) are written as three bytes, like Python's "surrogatepass".
std::string encode_utf8(std::u32string_view text);

bool py_isspace(char32_t c);  // str.isspace(): bidi class WS, B or S, or category Zs
bool py_isword(char32_t c);   // re's \w on str patterns: str.isalnum() or '_'
// The two properties of Python's Final_Sigma rule. is_cased is only meaningful for
// characters that are not case-ignorable, which is the only way the rule asks.
bool py_is_case_ignorable(char32_t c);
bool py_is_cased(char32_t c);

std::u32string py_lower(std::u32string_view text);      // str.lower()
std::vector<std::u32string_view> py_split(std::u32string_view text);  // str.split()
std::u32string_view py_strip(std::u32string_view text);               // str.strip()

}  // namespace longqa::eval::detail
