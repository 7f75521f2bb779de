// WordPiece tokenizer equal to Hugging Face tokenizers' BertNormalizer +
// BertPreTokenizer + WordPiece (what transformers' BertTokenizer runs), with the
// byte range of the original text behind every token.
//
// The text streams through the steps char by char, each normalized char carrying
// the original byte range HF's NormalizedString alignments give it, so one pass
// over the input does everything and no intermediate string is built.
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "longqa/tokenizer.h"

namespace longqa {
namespace {

using json = nlohmann::json;

struct CodeRange {
  char32_t first, last;
};

// Character classes as HF tokenizers 0.23 sees them. Its categories come from the
// unicode_categories crate, whose tables are years older than utf8proc's: chars
// assigned since (e.g. U+061D, U+0890, U+1AC1) or recategorized (U+166D) differ on
// about 600 code points, so utf8proc's categories cannot be used here. These
// ranges were read off HF itself by passing every code point through
// BertNormalizer and BertPreTokenizer (tests/test_tokenizer_hf.cpp re-checks them
// against HF for every code point of planes 0 and 1 and a sample of the rest).

// clean_text removes these: U+0000, U+FFFD (so also invalid UTF-8 replaced by it) and
// "other" chars (Cc, Cf, Co) but \t \n \r.
constexpr CodeRange kRemovedByClean[] = {
  {0x0, 0x8}, {0xB, 0xC}, {0xE, 0x1F}, {0x7F, 0x9F}, {0xAD, 0xAD}, {0x600, 0x605}, {0x61C, 0x61C},
  {0x6DD, 0x6DD}, {0x70F, 0x70F}, {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E},
  {0x2060, 0x2064}, {0x2066, 0x206F}, {0xE000, 0xF8FF}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB},
  {0xFFFD, 0xFFFD}, {0x110BD, 0x110BD}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
  {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};

// Punctuation (P*) beyond ASCII.
constexpr CodeRange kPunctuation[] = {
  {0xA1, 0xA1}, {0xA7, 0xA7}, {0xAB, 0xAB}, {0xB6, 0xB7}, {0xBB, 0xBB}, {0xBF, 0xBF},
  {0x37E, 0x37E}, {0x387, 0x387}, {0x55A, 0x55F}, {0x589, 0x58A}, {0x5BE, 0x5BE}, {0x5C0, 0x5C0},
  {0x5C3, 0x5C3}, {0x5C6, 0x5C6}, {0x5F3, 0x5F4}, {0x609, 0x60A}, {0x60C, 0x60D}, {0x61B, 0x61B},
  {0x61E, 0x61F}, {0x66A, 0x66D}, {0x6D4, 0x6D4}, {0x700, 0x70D}, {0x7F7, 0x7F9}, {0x830, 0x83E},
  {0x85E, 0x85E}, {0x964, 0x965}, {0x970, 0x970}, {0xAF0, 0xAF0}, {0xDF4, 0xDF4}, {0xE4F, 0xE4F},
  {0xE5A, 0xE5B}, {0xF04, 0xF12}, {0xF14, 0xF14}, {0xF3A, 0xF3D}, {0xF85, 0xF85}, {0xFD0, 0xFD4},
  {0xFD9, 0xFDA}, {0x104A, 0x104F}, {0x10FB, 0x10FB}, {0x1360, 0x1368}, {0x1400, 0x1400},
  {0x166D, 0x166E}, {0x169B, 0x169C}, {0x16EB, 0x16ED}, {0x1735, 0x1736}, {0x17D4, 0x17D6},
  {0x17D8, 0x17DA}, {0x1800, 0x180A}, {0x1944, 0x1945}, {0x1A1E, 0x1A1F}, {0x1AA0, 0x1AA6},
  {0x1AA8, 0x1AAD}, {0x1B5A, 0x1B60}, {0x1BFC, 0x1BFF}, {0x1C3B, 0x1C3F}, {0x1C7E, 0x1C7F},
  {0x1CC0, 0x1CC7}, {0x1CD3, 0x1CD3}, {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051},
  {0x2053, 0x205E}, {0x207D, 0x207E}, {0x208D, 0x208E}, {0x2308, 0x230B}, {0x2329, 0x232A},
  {0x2768, 0x2775}, {0x27C5, 0x27C6}, {0x27E6, 0x27EF}, {0x2983, 0x2998}, {0x29D8, 0x29DB},
  {0x29FC, 0x29FD}, {0x2CF9, 0x2CFC}, {0x2CFE, 0x2CFF}, {0x2D70, 0x2D70}, {0x2E00, 0x2E2E},
  {0x2E30, 0x2E42}, {0x3001, 0x3003}, {0x3008, 0x3011}, {0x3014, 0x301F}, {0x3030, 0x3030},
  {0x303D, 0x303D}, {0x30A0, 0x30A0}, {0x30FB, 0x30FB}, {0xA4FE, 0xA4FF}, {0xA60D, 0xA60F},
  {0xA673, 0xA673}, {0xA67E, 0xA67E}, {0xA6F2, 0xA6F7}, {0xA874, 0xA877}, {0xA8CE, 0xA8CF},
  {0xA8F8, 0xA8FA}, {0xA8FC, 0xA8FC}, {0xA92E, 0xA92F}, {0xA95F, 0xA95F}, {0xA9C1, 0xA9CD},
  {0xA9DE, 0xA9DF}, {0xAA5C, 0xAA5F}, {0xAADE, 0xAADF}, {0xAAF0, 0xAAF1}, {0xABEB, 0xABEB},
  {0xFD3E, 0xFD3F}, {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE61}, {0xFE63, 0xFE63},
  {0xFE68, 0xFE68}, {0xFE6A, 0xFE6B}, {0xFF01, 0xFF03}, {0xFF05, 0xFF0A}, {0xFF0C, 0xFF0F},
  {0xFF1A, 0xFF1B}, {0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D}, {0xFF3F, 0xFF3F}, {0xFF5B, 0xFF5B},
  {0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65}, {0x10100, 0x10102}, {0x1039F, 0x1039F}, {0x103D0, 0x103D0},
  {0x1056F, 0x1056F}, {0x10857, 0x10857}, {0x1091F, 0x1091F}, {0x1093F, 0x1093F},
  {0x10A50, 0x10A58}, {0x10A7F, 0x10A7F}, {0x10AF0, 0x10AF6}, {0x10B39, 0x10B3F},
  {0x10B99, 0x10B9C}, {0x11047, 0x1104D}, {0x110BB, 0x110BC}, {0x110BE, 0x110C1},
  {0x11140, 0x11143}, {0x11174, 0x11175}, {0x111C5, 0x111C9}, {0x111CD, 0x111CD},
  {0x111DB, 0x111DB}, {0x111DD, 0x111DF}, {0x11238, 0x1123D}, {0x112A9, 0x112A9},
  {0x114C6, 0x114C6}, {0x115C1, 0x115D7}, {0x11641, 0x11643}, {0x1173C, 0x1173E},
  {0x12470, 0x12474}, {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B3B},
  {0x16B44, 0x16B44}, {0x1BC9F, 0x1BC9F}, {0x1DA87, 0x1DA8B},
};

// Nonspacing marks (Mn): what strip_accents removes after NFD.
constexpr CodeRange kNonspacingMarks[] = {
  {0x300, 0x36F}, {0x483, 0x487}, {0x591, 0x5BD}, {0x5BF, 0x5BF}, {0x5C1, 0x5C2}, {0x5C4, 0x5C5},
  {0x5C7, 0x5C7}, {0x610, 0x61A}, {0x64B, 0x65F}, {0x670, 0x670}, {0x6D6, 0x6DC}, {0x6DF, 0x6E4},
  {0x6E7, 0x6E8}, {0x6EA, 0x6ED}, {0x711, 0x711}, {0x730, 0x74A}, {0x7A6, 0x7B0}, {0x7EB, 0x7F3},
  {0x816, 0x819}, {0x81B, 0x823}, {0x825, 0x827}, {0x829, 0x82D}, {0x859, 0x85B}, {0x8E3, 0x902},
  {0x93A, 0x93A}, {0x93C, 0x93C}, {0x941, 0x948}, {0x94D, 0x94D}, {0x951, 0x957}, {0x962, 0x963},
  {0x981, 0x981}, {0x9BC, 0x9BC}, {0x9C1, 0x9C4}, {0x9CD, 0x9CD}, {0x9E2, 0x9E3}, {0xA01, 0xA02},
  {0xA3C, 0xA3C}, {0xA41, 0xA42}, {0xA47, 0xA48}, {0xA4B, 0xA4D}, {0xA51, 0xA51}, {0xA70, 0xA71},
  {0xA75, 0xA75}, {0xA81, 0xA82}, {0xABC, 0xABC}, {0xAC1, 0xAC5}, {0xAC7, 0xAC8}, {0xACD, 0xACD},
  {0xAE2, 0xAE3}, {0xB01, 0xB01}, {0xB3C, 0xB3C}, {0xB3F, 0xB3F}, {0xB41, 0xB44}, {0xB4D, 0xB4D},
  {0xB56, 0xB56}, {0xB62, 0xB63}, {0xB82, 0xB82}, {0xBC0, 0xBC0}, {0xBCD, 0xBCD}, {0xC00, 0xC00},
  {0xC3E, 0xC40}, {0xC46, 0xC48}, {0xC4A, 0xC4D}, {0xC55, 0xC56}, {0xC62, 0xC63}, {0xC81, 0xC81},
  {0xCBC, 0xCBC}, {0xCBF, 0xCBF}, {0xCC6, 0xCC6}, {0xCCC, 0xCCD}, {0xCE2, 0xCE3}, {0xD01, 0xD01},
  {0xD41, 0xD44}, {0xD4D, 0xD4D}, {0xD62, 0xD63}, {0xDCA, 0xDCA}, {0xDD2, 0xDD4}, {0xDD6, 0xDD6},
  {0xE31, 0xE31}, {0xE34, 0xE3A}, {0xE47, 0xE4E}, {0xEB1, 0xEB1}, {0xEB4, 0xEB9}, {0xEBB, 0xEBC},
  {0xEC8, 0xECD}, {0xF18, 0xF19}, {0xF35, 0xF35}, {0xF37, 0xF37}, {0xF39, 0xF39}, {0xF71, 0xF7E},
  {0xF80, 0xF84}, {0xF86, 0xF87}, {0xF8D, 0xF97}, {0xF99, 0xFBC}, {0xFC6, 0xFC6},
  {0x102D, 0x1030}, {0x1032, 0x1037}, {0x1039, 0x103A}, {0x103D, 0x103E}, {0x1058, 0x1059},
  {0x105E, 0x1060}, {0x1071, 0x1074}, {0x1082, 0x1082}, {0x1085, 0x1086}, {0x108D, 0x108D},
  {0x109D, 0x109D}, {0x135D, 0x135F}, {0x1712, 0x1714}, {0x1732, 0x1734}, {0x1752, 0x1753},
  {0x1772, 0x1773}, {0x17B4, 0x17B5}, {0x17B7, 0x17BD}, {0x17C6, 0x17C6}, {0x17C9, 0x17D3},
  {0x17DD, 0x17DD}, {0x180B, 0x180D}, {0x18A9, 0x18A9}, {0x1920, 0x1922}, {0x1927, 0x1928},
  {0x1932, 0x1932}, {0x1939, 0x193B}, {0x1A17, 0x1A18}, {0x1A1B, 0x1A1B}, {0x1A56, 0x1A56},
  {0x1A58, 0x1A5E}, {0x1A60, 0x1A60}, {0x1A62, 0x1A62}, {0x1A65, 0x1A6C}, {0x1A73, 0x1A7C},
  {0x1A7F, 0x1A7F}, {0x1AB0, 0x1ABD}, {0x1B00, 0x1B03}, {0x1B34, 0x1B34}, {0x1B36, 0x1B3A},
  {0x1B3C, 0x1B3C}, {0x1B42, 0x1B42}, {0x1B6B, 0x1B73}, {0x1B80, 0x1B81}, {0x1BA2, 0x1BA5},
  {0x1BA8, 0x1BA9}, {0x1BAB, 0x1BAD}, {0x1BE6, 0x1BE6}, {0x1BE8, 0x1BE9}, {0x1BED, 0x1BED},
  {0x1BEF, 0x1BF1}, {0x1C2C, 0x1C33}, {0x1C36, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1CE0},
  {0x1CE2, 0x1CE8}, {0x1CED, 0x1CED}, {0x1CF4, 0x1CF4}, {0x1CF8, 0x1CF9}, {0x1DC0, 0x1DF5},
  {0x1DFC, 0x1DFF}, {0x20D0, 0x20DC}, {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x2CEF, 0x2CF1},
  {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xA66F, 0xA66F},
  {0xA674, 0xA67D}, {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802}, {0xA806, 0xA806},
  {0xA80B, 0xA80B}, {0xA825, 0xA826}, {0xA8C4, 0xA8C4}, {0xA8E0, 0xA8F1}, {0xA926, 0xA92D},
  {0xA947, 0xA951}, {0xA980, 0xA982}, {0xA9B3, 0xA9B3}, {0xA9B6, 0xA9B9}, {0xA9BC, 0xA9BC},
  {0xA9E5, 0xA9E5}, {0xAA29, 0xAA2E}, {0xAA31, 0xAA32}, {0xAA35, 0xAA36}, {0xAA43, 0xAA43},
  {0xAA4C, 0xAA4C}, {0xAA7C, 0xAA7C}, {0xAAB0, 0xAAB0}, {0xAAB2, 0xAAB4}, {0xAAB7, 0xAAB8},
  {0xAABE, 0xAABF}, {0xAAC1, 0xAAC1}, {0xAAEC, 0xAAED}, {0xAAF6, 0xAAF6}, {0xABE5, 0xABE5},
  {0xABE8, 0xABE8}, {0xABED, 0xABED}, {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F},
  {0x101FD, 0x101FD}, {0x102E0, 0x102E0}, {0x10376, 0x1037A}, {0x10A01, 0x10A03},
  {0x10A05, 0x10A06}, {0x10A0C, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F},
  {0x10AE5, 0x10AE6}, {0x11001, 0x11001}, {0x11038, 0x11046}, {0x1107F, 0x11081},
  {0x110B3, 0x110B6}, {0x110B9, 0x110BA}, {0x11100, 0x11102}, {0x11127, 0x1112B},
  {0x1112D, 0x11134}, {0x11173, 0x11173}, {0x11180, 0x11181}, {0x111B6, 0x111BE},
  {0x111CA, 0x111CC}, {0x1122F, 0x11231}, {0x11234, 0x11234}, {0x11236, 0x11237},
  {0x112DF, 0x112DF}, {0x112E3, 0x112EA}, {0x11300, 0x11301}, {0x1133C, 0x1133C},
  {0x11340, 0x11340}, {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x114B3, 0x114B8},
  {0x114BA, 0x114BA}, {0x114BF, 0x114C0}, {0x114C2, 0x114C3}, {0x115B2, 0x115B5},
  {0x115BC, 0x115BD}, {0x115BF, 0x115C0}, {0x115DC, 0x115DD}, {0x11633, 0x1163A},
  {0x1163D, 0x1163D}, {0x1163F, 0x11640}, {0x116AB, 0x116AB}, {0x116AD, 0x116AD},
  {0x116B0, 0x116B5}, {0x116B7, 0x116B7}, {0x1171D, 0x1171F}, {0x11722, 0x11725},
  {0x11727, 0x1172B}, {0x16AF0, 0x16AF4}, {0x16B30, 0x16B36}, {0x16F8F, 0x16F92},
  {0x1BC9D, 0x1BC9E}, {0x1D167, 0x1D169}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
  {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244}, {0x1DA00, 0x1DA36}, {0x1DA3B, 0x1DA6C},
  {0x1DA75, 0x1DA75}, {0x1DA84, 0x1DA84}, {0x1DA9B, 0x1DA9F}, {0x1DAA1, 0x1DAAF},
  {0x1E8D0, 0x1E8D6}, {0xE0100, 0xE01EF},
};

// The chars whose nonzero canonical combining class HF's NFD knows (its
// unicode-normalization tables predate marks such as U+1AC1 or U+1E130, which it
// treats as class 0, and so does not reorder); the classes come from utf8proc.
constexpr CodeRange kCombiningMarks[] = {
  {0x300, 0x34E}, {0x350, 0x36F}, {0x483, 0x487}, {0x591, 0x5BD}, {0x5BF, 0x5BF}, {0x5C1, 0x5C2},
  {0x5C4, 0x5C5}, {0x5C7, 0x5C7}, {0x610, 0x61A}, {0x64B, 0x65F}, {0x670, 0x670}, {0x6D6, 0x6DC},
  {0x6DF, 0x6E4}, {0x6E7, 0x6E8}, {0x6EA, 0x6ED}, {0x711, 0x711}, {0x730, 0x74A}, {0x7EB, 0x7F3},
  {0x816, 0x819}, {0x81B, 0x823}, {0x825, 0x827}, {0x829, 0x82D}, {0x859, 0x85B}, {0x8D4, 0x8E1},
  {0x8E3, 0x8FF}, {0x93C, 0x93C}, {0x94D, 0x94D}, {0x951, 0x954}, {0x9BC, 0x9BC}, {0x9CD, 0x9CD},
  {0xA3C, 0xA3C}, {0xA4D, 0xA4D}, {0xABC, 0xABC}, {0xACD, 0xACD}, {0xB3C, 0xB3C}, {0xB4D, 0xB4D},
  {0xBCD, 0xBCD}, {0xC4D, 0xC4D}, {0xC55, 0xC56}, {0xCBC, 0xCBC}, {0xCCD, 0xCCD}, {0xD4D, 0xD4D},
  {0xDCA, 0xDCA}, {0xE38, 0xE3A}, {0xE48, 0xE4B}, {0xEB8, 0xEB9}, {0xEC8, 0xECB}, {0xF18, 0xF19},
  {0xF35, 0xF35}, {0xF37, 0xF37}, {0xF39, 0xF39}, {0xF71, 0xF72}, {0xF74, 0xF74}, {0xF7A, 0xF7D},
  {0xF80, 0xF80}, {0xF82, 0xF84}, {0xF86, 0xF87}, {0xFC6, 0xFC6}, {0x1037, 0x1037},
  {0x1039, 0x103A}, {0x108D, 0x108D}, {0x135D, 0x135F}, {0x1714, 0x1714}, {0x1734, 0x1734},
  {0x17D2, 0x17D2}, {0x17DD, 0x17DD}, {0x18A9, 0x18A9}, {0x1939, 0x193B}, {0x1A17, 0x1A18},
  {0x1A60, 0x1A60}, {0x1A75, 0x1A7C}, {0x1A7F, 0x1A7F}, {0x1AB0, 0x1ABD}, {0x1B34, 0x1B34},
  {0x1B44, 0x1B44}, {0x1B6B, 0x1B73}, {0x1BAA, 0x1BAB}, {0x1BE6, 0x1BE6}, {0x1BF2, 0x1BF3},
  {0x1C37, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1CE0}, {0x1CE2, 0x1CE8}, {0x1CED, 0x1CED},
  {0x1CF4, 0x1CF4}, {0x1CF8, 0x1CF9}, {0x1DC0, 0x1DF5}, {0x1DFB, 0x1DFF}, {0x20D0, 0x20DC},
  {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x2CEF, 0x2CF1}, {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF},
  {0x302A, 0x302F}, {0x3099, 0x309A}, {0xA66F, 0xA66F}, {0xA674, 0xA67D}, {0xA69E, 0xA69F},
  {0xA6F0, 0xA6F1}, {0xA806, 0xA806}, {0xA8C4, 0xA8C4}, {0xA8E0, 0xA8F1}, {0xA92B, 0xA92D},
  {0xA953, 0xA953}, {0xA9B3, 0xA9B3}, {0xA9C0, 0xA9C0}, {0xAAB0, 0xAAB0}, {0xAAB2, 0xAAB4},
  {0xAAB7, 0xAAB8}, {0xAABE, 0xAABF}, {0xAAC1, 0xAAC1}, {0xAAF6, 0xAAF6}, {0xABED, 0xABED},
  {0xFB1E, 0xFB1E}, {0xFE20, 0xFE2F}, {0x101FD, 0x101FD}, {0x102E0, 0x102E0}, {0x10376, 0x1037A},
  {0x10A0D, 0x10A0D}, {0x10A0F, 0x10A0F}, {0x10A38, 0x10A3A}, {0x10A3F, 0x10A3F},
  {0x10AE5, 0x10AE6}, {0x11046, 0x11046}, {0x1107F, 0x1107F}, {0x110B9, 0x110BA},
  {0x11100, 0x11102}, {0x11133, 0x11134}, {0x11173, 0x11173}, {0x111C0, 0x111C0},
  {0x111CA, 0x111CA}, {0x11235, 0x11236}, {0x112E9, 0x112EA}, {0x1133C, 0x1133C},
  {0x1134D, 0x1134D}, {0x11366, 0x1136C}, {0x11370, 0x11374}, {0x11442, 0x11442},
  {0x11446, 0x11446}, {0x114C2, 0x114C3}, {0x115BF, 0x115C0}, {0x1163F, 0x1163F},
  {0x116B6, 0x116B7}, {0x1172B, 0x1172B}, {0x11C3F, 0x11C3F}, {0x16AF0, 0x16AF4},
  {0x16B30, 0x16B36}, {0x1BC9E, 0x1BC9E}, {0x1D165, 0x1D169}, {0x1D16D, 0x1D172},
  {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B}, {0x1D1AA, 0x1D1AD}, {0x1D242, 0x1D244},
  {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024},
  {0x1E026, 0x1E02A}, {0x1E8D0, 0x1E8D6}, {0x1E944, 0x1E94A},
};

// The chars outside the BMP that HF's NFD decomposes. Its tables predate the
// decompositions added since Unicode 13 (U+11938; Unicode 16 has more), all of them
// outside the BMP, which utf8proc may know.
constexpr CodeRange kSupplementaryDecompositions[] = {
    {0x1109A, 0x1109A}, {0x1109C, 0x1109C}, {0x110AB, 0x110AB}, {0x1112E, 0x1112F}, {0x1134B, 0x1134C},
    {0x114BB, 0x114BC}, {0x114BE, 0x114BE}, {0x115BA, 0x115BB}, {0x1D15E, 0x1D164}, {0x1D1BB, 0x1D1C0},
    {0x2F800, 0x2FA1D},
};

// Lowercase mappings added in Unicode 16 (HF lowercases with Rust's char::to_lowercase,
// Unicode 16; utf8proc 2.8 knows Unicode 15): c in [first, last] maps to to + (c - first).
struct CaseRange {
  char32_t first, last, to;
};
constexpr CaseRange kLowercaseUnicode16[] = {
    {0x1C89, 0x1C89, 0x1C8A}, {0xA7CB, 0xA7CB, 0x0264}, {0xA7CC, 0xA7CC, 0xA7CD},
    {0xA7CE, 0xA7CE, 0xA7CF}, {0xA7D2, 0xA7D2, 0xA7D3}, {0xA7D4, 0xA7D4, 0xA7D5},
    {0xA7DA, 0xA7DA, 0xA7DB}, {0xA7DC, 0xA7DC, 0x019B}, {0x10D50, 0x10D65, 0x10D70},
    {0x16EA0, 0x16EB8, 0x16EBB},
};

template <size_t N>
bool in_ranges(const CodeRange (&ranges)[N], char32_t c) {
  const CodeRange* it = std::upper_bound(ranges, ranges + N, c,
                                         [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

// Rust's char::is_whitespace (the White_Space property), which HF uses both to map
// whitespace to ' ' and to split words.
bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_removed_by_clean(char32_t c) {
  if (c < 0x80) return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
  return in_ranges(kRemovedByClean, c);
}

// BERT counts all ASCII symbols as punctuation ("$", "^", "`"...), and P* beyond.
bool is_punctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return in_ranges(kPunctuation, c);
}

// BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not all of CJK: kana
// and Hangul are not in it).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Rust's char::to_lowercase: the full mapping, whose only unconditional expansion is
// U+0130 'İ' -> "i\u0307". Writes 1 or 2 chars to out and returns the count.
int to_lowercase(char32_t c, char32_t out[2]) {
  if (c < 0x80) {
    out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return 1;
  }
  if (c == 0x130) {
    out[0] = 'i', out[1] = 0x307;
    return 2;
  }
  for (const CaseRange& r : kLowercaseUnicode16) {
    if (c >= r.first && c <= r.last) {
      out[0] = r.to + (c - r.first);
      return 1;
    }
  }
  out[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  return 1;
}


// The original byte range a normalized char stands for.
struct Span {
  int64_t begin = 0, end = 0;
};

struct NormChar {
  char32_t cp;
  Span span;
};

// What WordPiece needs of the Tokenizer.
struct WordPieceModel {
  const std::unordered_map<std::string, int32_t>& ids;
  const TokenizerOptions& options;
  int32_t unk_id;
  size_t max_token_bytes;
};

// WordPiece over one word: greedy longest match from the left, "##" on non-initial
// pieces; a word longer than max_input_chars_per_word, or with a part that matches
// nothing, is one [UNK]. A piece's offsets run from its first char's begin to its
// last char's end, as HF converts normalized ranges to original ones.
class WordPiece {
 public:
  WordPiece(const WordPieceModel& model, std::vector<Token>& out) : model_(model), out_(out) {}

  void encode(const std::vector<NormChar>& word) {
    const size_t n = word.size();
    if (n == 0) return;
    if (n > static_cast<size_t>(std::max(model_.options.max_input_chars_per_word, 0))) {
      unknown(word);
      return;
    }
    bytes_.clear();
    starts_.clear();
    for (const NormChar& c : word) {
      starts_.push_back(bytes_.size());
      append_utf8(bytes_, c.cp);
    }
    starts_.push_back(bytes_.size());

    const std::string& prefix = model_.options.continuing_subword_prefix;
    pieces_.clear();
    for (size_t s = 0; s < n;) {
      const size_t prefix_bytes = s > 0 ? prefix.size() : 0;
      // Longer candidates than the longest vocabulary entry cannot match.
      size_t e = s;
      if (model_.max_token_bytes >= prefix_bytes) {
        const size_t limit = starts_[s] + (model_.max_token_bytes - prefix_bytes);
        e = static_cast<size_t>(std::upper_bound(starts_.begin() + s, starts_.end(), limit) - starts_.begin()) - 1;
      }
      int32_t id = -1;
      for (; e > s; --e) {
        key_.assign(prefix, 0, prefix_bytes);
        key_.append(bytes_, starts_[s], starts_[e] - starts_[s]);
        const auto it = model_.ids.find(key_);
        if (it != model_.ids.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) {
        unknown(word);
        return;
      }
      pieces_.push_back({id, s, e});
      s = e;
    }
    for (const Piece& p : pieces_) {
      Token t{p.id, {}, word[p.begin].span.begin, word[p.end - 1].span.end};
      if (p.begin > 0) t.text = prefix;
      t.text.append(bytes_, starts_[p.begin], starts_[p.end] - starts_[p.begin]);
      out_.push_back(std::move(t));
    }
  }

 private:
  struct Piece {
    int32_t id;
    size_t begin, end;  // char indices in the word
  };

  void unknown(const std::vector<NormChar>& word) {
    out_.push_back({model_.unk_id, model_.options.unk_token, word.front().span.begin, word.back().span.end});
  }

  const WordPieceModel& model_;
  std::vector<Token>& out_;
  std::string bytes_, key_;     // the word in UTF-8; the candidate being looked up
  std::vector<size_t> starts_;  // byte offset of each char of the word in bytes_
  std::vector<Piece> pieces_;
};

// BertNormalizer then BertPreTokenizer, streamed: original chars go in, words of
// normalized chars come out to WordPiece.
//
// HF's steps are string transforms that keep, for every normalized char, the
// original range it aligns with. A char replaced in place keeps its own range; a
// char inserted after it (the tail of an NFD decomposition, the second char of
// lowercase 'İ') takes the range of the original char consumed last. NFD also
// reorders combining marks by combining class while the ranges stay in place, so a
// reordered mark takes the range of the position it lands on; the ranges of a word
// thus never go backwards.
class Pipeline {
 public:
  Pipeline(const WordPieceModel& model, std::vector<Token>& out)
      : options_(model.options),
        strip_accents_(model.options.strip_accents < 0 ? model.options.lowercase : model.options.strip_accents > 0),
        wordpiece_(model, out) {}

  // One char of the original text.
  void push(char32_t c, Span span) {
    if (options_.clean_text) {
      if (is_removed_by_clean(c)) return;
      if (is_whitespace(c)) c = ' ';
    }
    if (options_.tokenize_chinese_chars && is_chinese_char(c)) {
      decompose(' ', span);
      decompose(c, span);
      decompose(' ', span);
    } else {
      decompose(c, span);
    }
  }

  // End of a run of text (before a special token, or the end): HF normalizes each run
  // on its own, so nothing carries over.
  void finish() {
    flush_marks();
    end_word();
  }

 private:
  struct Mark {
    char32_t cp;
    int ccc;        // canonical combining class
    bool inserted;  // not the first char of its char's decomposition
  };

  // NFD (with strip_accents), then dropping nonspacing marks. Starters go on at once;
  // combining marks wait for the next starter, to be put in canonical order first.
  void decompose(char32_t c, Span span) {
    if (!strip_accents_) {
      lowercase(c, span);
      return;
    }
    if (c < 0xC0) {  // no decomposition, combining class 0
      flush_marks();
      last_ = span;
      lowercase(c, span);
      return;
    }
    utf8proc_int32_t parts[8] = {static_cast<utf8proc_int32_t>(c)};
    utf8proc_ssize_t n = 1;
    if (c < 0x10000 || in_ranges(kSupplementaryDecompositions, c)) {
      int boundclass = 0;
      n = utf8proc_decompose_char(parts[0], parts, 8, UTF8PROC_DECOMPOSE, &boundclass);
    }
    spans_.push_back(span);
    for (utf8proc_ssize_t i = 0; i < n; ++i) {
      const auto part = static_cast<char32_t>(parts[i]);
      const int ccc = in_ranges(kCombiningMarks, part) ? utf8proc_get_property(parts[i])->combining_class : 0;
      const Mark m{part, ccc, i > 0};
      if (m.ccc == 0) {
        flush_marks();
        emit(m);
      } else {
        pending_.push_back(m);
      }
    }
  }

  void flush_marks() {
    // Stable insertion sort by combining class: runs are a few marks long.
    for (size_t i = 1; i < pending_.size(); ++i)
      for (size_t j = i; j > 0 && pending_[j - 1].ccc > pending_[j].ccc; --j) std::swap(pending_[j - 1], pending_[j]);
    for (const Mark& m : pending_) emit(m);
    pending_.clear();
  }

  void emit(const Mark& m) {
    if (!m.inserted) {
      last_ = spans_[next_span_++];
      if (next_span_ == spans_.size()) spans_.clear(), next_span_ = 0;
    }
    if (!in_ranges(kNonspacingMarks, m.cp)) lowercase(m.cp, last_);
  }

  void lowercase(char32_t c, Span span) {
    if (!options_.lowercase) {
      pre_tokenize(c, span);
      return;
    }
    char32_t lower[2];
    const int n = to_lowercase(c, lower);
    for (int i = 0; i < n; ++i) pre_tokenize(lower[i], span);
  }

  // BertPreTokenizer: split on whitespace (dropped) and punctuation (kept alone).
  void pre_tokenize(char32_t c, Span span) {
    if (is_whitespace(c)) {
      end_word();
    } else if (is_punctuation(c)) {
      end_word();
      word_.push_back({c, span});
      end_word();
    } else {
      word_.push_back({c, span});
    }
  }

  void end_word() {
    wordpiece_.encode(word_);
    word_.clear();
  }

  const TokenizerOptions& options_;
  const bool strip_accents_;
  WordPiece wordpiece_;
  std::vector<Mark> pending_;   // decomposed chars waiting for the next starter
  std::vector<Span> spans_;     // ranges of the original chars behind pending_, in order
  size_t next_span_ = 0;        // the next of spans_ a first-of-decomposition char takes
  Span last_;                   // range of the original char consumed last
  std::vector<NormChar> word_;  // the word being built
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json read_json(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
  }
}

// A token setting in tokenizer_config.json: a string, or an AddedToken object.
std::string token_content(const json& value, const std::string& path, const std::string& key) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string())
    return value["content"].get<std::string>();
  throw std::runtime_error(path + ": \"" + key + "\" is not a token");
}

// The special-token settings of transformers' tokenizer_config.json or
// special_tokens_map.json. bos/eos and additional_special_tokens are returned, for the
// caller to keep those the vocabulary has.
std::vector<std::string> read_special_tokens(const json& config, const std::string& path, TokenizerOptions& options) {
  const std::pair<const char*, std::string*> named[] = {{"unk_token", &options.unk_token},
                                                        {"cls_token", &options.cls_token},
                                                        {"sep_token", &options.sep_token},
                                                        {"pad_token", &options.pad_token},
                                                        {"mask_token", &options.mask_token}};
  for (const auto& [key, field] : named)
    if (config.contains(key) && !config[key].is_null()) *field = token_content(config[key], path, key);
  std::vector<std::string> extra;
  for (const char* key : {"bos_token", "eos_token"})
    if (config.contains(key) && !config[key].is_null()) extra.push_back(token_content(config[key], path, key));
  if (config.contains("additional_special_tokens") && config["additional_special_tokens"].is_array())
    for (const json& t : config["additional_special_tokens"])
      extra.push_back(token_content(t, path, "additional_special_tokens"));
  return extra;
}

bool get_bool(const json& config, const char* key, bool fallback, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) throw std::runtime_error(path + ": \"" + key + "\" must be true or false");
  return config[key].get<bool>();
}

// strip_accents: null follows lowercase (-1), else 0 or 1.
int get_strip_accents(const json& config, const std::string& path) {
  if (!config.contains("strip_accents") || config["strip_accents"].is_null()) return -1;
  return get_bool(config, "strip_accents", false, path) ? 1 : 0;
}

// vocab.txt as HF tokenizers' WordPiece::read_file reads it: one token per line
// ("\n" or "\r\n"), trailing whitespace trimmed, the line number as id.
std::vector<std::string> read_vocab_lines(const std::string& path) {
  const std::string content = read_file(path);
  std::vector<std::string> vocab;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string::npos) eol = content.size();
    const std::string_view line(content.data() + pos, eol - pos);
    size_t keep = 0;  // end of the last char that is not whitespace
    for (size_t i = 0; i < line.size();) {
      const Utf8Char c = decode_utf8(line, i);
      if (!c.valid)
        throw std::runtime_error(path + ": line " + std::to_string(vocab.size() + 1) + " is not valid UTF-8");
      i += c.length;
      if (!is_whitespace(c.cp)) keep = i;
    }
    vocab.emplace_back(line.substr(0, keep));
    pos = eol + 1;
  }
  return vocab;
}

// The parts of an HF tokenizer.json this tokenizer implements; anything else is
// refused rather than silently tokenized differently.
void parse_tokenizer_json(const std::string& path, std::vector<std::string>& vocab,
                          std::unordered_map<std::string, int32_t>& ids, TokenizerOptions& options) {
  const json config = read_json(path);
  const auto refuse = [&](const std::string& what) {
    throw std::runtime_error(path + ": unsupported " + what +
                             " (only BertNormalizer, BertPreTokenizer and WordPiece are supported)");
  };
  const auto type_of = [](const json& component) {
    return component.is_object() && component.contains("type") && component["type"].is_string()
               ? component["type"].get<std::string>()
               : std::string(component.is_null() ? "none" : "?");
  };

  const json normalizer = config.value("normalizer", json());
  if (normalizer.is_null()) {
    options.clean_text = options.tokenize_chinese_chars = options.lowercase = false;
    options.strip_accents = 0;
  } else if (type_of(normalizer) == "BertNormalizer") {
    options.clean_text = get_bool(normalizer, "clean_text", true, path);
    options.tokenize_chinese_chars = get_bool(normalizer, "handle_chinese_chars", true, path);
    options.lowercase = get_bool(normalizer, "lowercase", true, path);
    options.strip_accents = get_strip_accents(normalizer, path);
  } else {
    refuse("normalizer \"" + type_of(normalizer) + "\"");
  }
  const json pre_tokenizer = config.value("pre_tokenizer", json());
  if (type_of(pre_tokenizer) != "BertPreTokenizer") refuse("pre_tokenizer \"" + type_of(pre_tokenizer) + "\"");
  const json model = config.value("model", json());
  if (type_of(model) != "WordPiece") refuse("model \"" + type_of(model) + "\"");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    throw std::runtime_error(path + ": WordPiece without a vocab");
  options.unk_token = model.value("unk_token", options.unk_token);
  options.continuing_subword_prefix = model.value("continuing_subword_prefix", options.continuing_subword_prefix);
  options.max_input_chars_per_word = model.value("max_input_chars_per_word", options.max_input_chars_per_word);

  const auto add = [&](const std::string& token, const json& id) {
    // The bound keeps a corrupt id from sizing the vocabulary to gigabytes.
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t{1} << 24))
      throw std::runtime_error(path + ": bad id for token \"" + token + "\"");
    const auto i = static_cast<int32_t>(id.get<int64_t>());
    ids[token] = i;
    if (static_cast<size_t>(i) >= vocab.size()) vocab.resize(static_cast<size_t>(i) + 1);
    vocab[static_cast<size_t>(i)] = token;
  };
  for (const auto& entry : model["vocab"].items()) add(entry.key(), entry.value());
  // Added tokens are matched in the raw text; those matched after normalization or
  // with whitespace handling are not supported.
  for (const json& added : config.value("added_tokens", json::array())) {
    const std::string content = added.value("content", std::string());
    for (const char* flag : {"normalized", "lstrip", "rstrip", "single_word"})
      if (added.value(flag, false)) refuse(std::string("added token \"") + content + "\" with " + flag + "=true");
    add(content, added.value("id", json()));
    options.extra_special_tokens.push_back(content);
  }
}

// A repeated token keeps its last id, as HF's vocabulary map does.
std::unordered_map<std::string, int32_t> ids_of(const std::vector<std::string>& vocab) {
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = static_cast<int32_t>(i);
  return ids;
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> vocab, TokenizerOptions options)
    : Tokenizer(vocab, ids_of(vocab), std::move(options)) {}

Tokenizer::Tokenizer(std::vector<std::string> vocab, std::unordered_map<std::string, int32_t> ids,
                     TokenizerOptions options)
    : vocab_(std::move(vocab)), ids_(std::move(ids)), options_(std::move(options)) {
  std::string missing;
  const auto special = [&](const std::string& token) {
    const auto it = ids_.find(token);
    if (it != ids_.end()) return it->second;
    missing += (missing.empty() ? "" : ", ") + ("\"" + token + "\"");
    return int32_t{-1};
  };
  unk_id_ = special(options_.unk_token);
  cls_id_ = special(options_.cls_token);
  sep_id_ = special(options_.sep_token);
  pad_id_ = special(options_.pad_token);
  mask_id_ = special(options_.mask_token);
  std::vector<std::string> specials = {options_.unk_token, options_.cls_token, options_.sep_token,
                                       options_.pad_token, options_.mask_token};
  for (const std::string& t : options_.extra_special_tokens) {
    special(t);
    specials.push_back(t);
  }
  if (!missing.empty()) throw std::invalid_argument("special tokens missing from the vocabulary: " + missing);

  // Longest first, so that matching at a position picks the longest (HF's leftmost-longest).
  std::sort(specials.begin(), specials.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  specials.erase(std::unique(specials.begin(), specials.end()), specials.end());
  for (const std::string& t : specials)
    if (!t.empty()) special_tokens_.emplace_back(t, ids_.at(t));
  for (const auto& entry : ids_) max_token_bytes_ = std::max(max_token_bytes_, entry.first.size());
}

Tokenizer Tokenizer::from_vocab_file(const std::string& vocab_path) {
  std::vector<std::string> vocab = read_vocab_lines(vocab_path);
  // transformers' BertTokenizer settings and defaults (do_lower_case defaults to true).
  TokenizerOptions options;
  const std::filesystem::path dir = std::filesystem::path(vocab_path).parent_path();
  std::vector<std::string> extra;
  const std::string config_path = (dir / "tokenizer_config.json").string();
  if (std::filesystem::exists(config_path)) {
    const json config = read_json(config_path);
    options.lowercase = get_bool(config, "do_lower_case", true, config_path);
    options.strip_accents = get_strip_accents(config, config_path);
    options.tokenize_chinese_chars = get_bool(config, "tokenize_chinese_chars", true, config_path);
    extra = read_special_tokens(config, config_path, options);
  }
  // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
  const std::string map_path = (dir / "special_tokens_map.json").string();
  if (std::filesystem::exists(map_path))
    for (std::string& t : read_special_tokens(read_json(map_path), map_path, options)) extra.push_back(std::move(t));
  // bos/eos that the vocabulary lacks would be new tokens past it in transformers,
  // meaningless to the model's embeddings: such text stays ordinary text here.
  const std::unordered_set<std::string> known(vocab.begin(), vocab.end());
  for (const std::string& t : extra)
    if (known.count(t)) options.extra_special_tokens.push_back(t);
  try {
    return Tokenizer(std::move(vocab), std::move(options));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(vocab_path + ": " + e.what());
  }
}

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path) {
  std::vector<std::string> vocab;
  std::unordered_map<std::string, int32_t> ids;
  TokenizerOptions options;
  try {
    parse_tokenizer_json(path, vocab, ids, options);
  } catch (const json::exception& e) {  // a field of the wrong type
    throw std::runtime_error(path + ": " + e.what());
  }
  // Names of [CLS] and the like, which tokenizer.json does not record.
  const std::string beside = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
  if (std::filesystem::exists(beside)) read_special_tokens(read_json(beside), beside, options);
  try {
    return Tokenizer(std::move(vocab), std::move(ids), std::move(options));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

Tokenizer Tokenizer::from_directory(const std::string& dir) {
  const std::filesystem::path root(dir);
  if (std::filesystem::exists(root / "tokenizer.json")) return from_tokenizer_json((root / "tokenizer.json").string());
  if (std::filesystem::exists(root / "vocab.txt")) return from_vocab_file((root / "vocab.txt").string());
  throw std::runtime_error(dir + ": no tokenizer.json or vocab.txt");
}

std::vector<Token> Tokenizer::tokenize(std::string_view text) const {
  std::vector<Token> tokens;
  tokens.reserve(text.size() / 4);
  const WordPieceModel model{ids_, options_, unk_id_, max_token_bytes_};
  Pipeline pipeline(model, tokens);

  std::array<bool, 256> starts_special{};
  if (!options_.split_special_tokens)
    for (const auto& [token, id] : special_tokens_) starts_special[static_cast<unsigned char>(token[0])] = true;

  for (size_t pos = 0; pos < text.size();) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    if (starts_special[byte]) {
      const auto match = std::find_if(special_tokens_.begin(), special_tokens_.end(), [&](const auto& special) {
        return text.compare(pos, special.first.size(), special.first) == 0;
      });
      if (match != special_tokens_.end()) {
        pipeline.finish();
        const auto begin = static_cast<int64_t>(pos);
        tokens.push_back({match->second, match->first, begin, begin + static_cast<int64_t>(match->first.size())});
        pos += match->first.size();
        continue;
      }
    }
    Utf8Char c{byte, 1, true};
    if (byte >= 0x80) {
      c = decode_utf8(text, pos);
      if (!c.valid && !options_.replace_invalid_utf8)
        throw std::invalid_argument("invalid UTF-8 at byte offset " + std::to_string(pos));
    }
    pipeline.push(c.cp, {static_cast<int64_t>(pos), static_cast<int64_t>(pos + c.length)});
    pos += c.length;
  }
  pipeline.finish();
  return tokens;
}

int32_t Tokenizer::token_to_id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? unk_id_ : it->second;
}

const std::string& Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary");
  return vocab_[static_cast<size_t>(id)];
}

std::vector<std::string> vocabulary_subset(const Tokenizer& tokenizer, const std::vector<std::string>& texts) {
  const auto& vocab = tokenizer.vocab();
  std::vector<bool> keep(vocab.size(), false);
  const TokenizerOptions& o = tokenizer.options();
  for (const std::string* special : {&o.unk_token, &o.cls_token, &o.sep_token, &o.pad_token, &o.mask_token})
    keep[static_cast<size_t>(tokenizer.token_to_id(*special))] = true;
  for (const auto& t : o.extra_special_tokens) keep[static_cast<size_t>(tokenizer.token_to_id(t))] = true;
  for (const auto& text : texts) {
    for (const Token& t : tokenizer.tokenize(text)) {
      keep[static_cast<size_t>(t.id)] = true;
      // The characters this piece came from, as words and as continuations.
      const std::string_view source = std::string_view(text).substr(static_cast<size_t>(t.begin),
                                                                     static_cast<size_t>(t.end - t.begin));
      for (size_t at = 0; at < source.size();) {
        const auto c = decode_utf8(source, at);
        // The piece's own normalisation (lowercase, accents) decides what is in the vocabulary:
        // tokenize the one character alone and keep what it becomes, as a word and after ##.
        const std::string one(source.substr(at, c.length));
        for (const Token& piece : tokenizer.tokenize(one)) {
          keep[static_cast<size_t>(piece.id)] = true;
          const int32_t continuation = tokenizer.token_to_id(o.continuing_subword_prefix + piece.text);
          if (continuation != tokenizer.unk_id()) keep[static_cast<size_t>(continuation)] = true;
        }
        at += c.length;
      }
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < vocab.size(); ++i)
    if (keep[i]) out.push_back(vocab[i]);
  return out;
}

}  // namespace longqa
