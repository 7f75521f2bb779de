// The character classes, NFD and lowercase of Hugging Face tokenizers' BertNormalizer and
// BertPreTokenizer (tokenizers 0.23), code point by code point. utf8proc where its data agree
// with HF's; generated tables (hf_unicode_tables.inc, written by gen_hf_unicode_tables.py from
// HF itself) where HF's Unicode data are older or newer than utf8proc's. Private to reader/.
#pragma once

namespace longqa::tokenization {

// Rust's char::is_whitespace (White_Space), which HF uses both to map whitespace to ' ' and to
// split words (and to trim vocab.txt lines).
bool is_whitespace(char32_t c);
// What clean_text removes: U+0000, U+FFFD and "other" chars (Cc, Cf, Co) but \t \n \r.
bool is_removed_by_clean(char32_t c);
// BERT counts all ASCII symbols as punctuation ("$", "^", "`"...), and P* beyond.
bool is_punctuation(char32_t c);
// BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not all of CJK: kana and Hangul
// are not in it).
bool is_chinese_char(char32_t c);
// Nonspacing marks (Mn): what strip_accents removes after NFD.
bool is_nonspacing_mark(char32_t c);

// The most chars one char's canonical decomposition has (Unicode's longest is 4).
constexpr int kMaxDecomposition = 8;
// HF's NFD of one char, not yet put in canonical order: writes the parts to out and returns
// their count (1, c itself, when it does not decompose).
int decompose(char32_t c, char32_t (&out)[kMaxDecomposition]);
// The canonical combining class as HF's NFD knows it: 0 for the marks added since its tables.
int combining_class(char32_t c);
// Rust's char::to_lowercase: the full mapping, whose only unconditional expansion is
// U+0130 'İ' -> "i\u0307". Writes 1 or 2 chars to out and returns the count.
int to_lowercase(char32_t c, char32_t (&out)[2]);

}  // namespace longqa::tokenization
