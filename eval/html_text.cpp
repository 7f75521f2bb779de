// What BeautifulSoup(markup).get_text() does with html.parser: the tokens come from
// html_tokenizer.h (Python 3.11's html.parser.HTMLParser, with bs4's character-reference
// decoding); this file is bs4's BeautifulSoupHTMLParser handlers and the parts of
// BeautifulSoup's tree building that decide which strings get_text() returns.
// Function names follow the Python ones so the two can be read side by side.
#include "html_text.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "html_tokenizer.h"

namespace longqa::eval::detail {
namespace {

constexpr size_t npos = std::u32string::npos;

bool is_void_element(std::u32string_view name) {
  static const std::u32string_view names[] = {
      U"area", U"base", U"br", U"col", U"embed", U"hr", U"img", U"input", U"keygen", U"link", U"menuitem",
      U"meta", U"param", U"source", U"track", U"wbr", U"basefont", U"bgsound", U"command", U"frame",
      U"image", U"isindex", U"nextid", U"spacer"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// The classes bs4 gives strings; get_text() keeps NavigableString and CData only.
enum class string_class { navigable, cdata, other };

class soup_text_builder {
 public:
  std::u32string run(std::u32string_view markup) {
    tokenize_html(markup, HtmlTokenizerOptions{}, [this](const HtmlToken& token) { handle_token(token); });
    end_data(string_class::navigable);
    return std::move(text_);
  }

 private:
  void handle_token(const HtmlToken& token) {
    switch (token.kind) {
      case HtmlTokenKind::text:
      case HtmlTokenKind::raw_text:
      case HtmlTokenKind::reference:
        handle_data(token.value);
        break;
      case HtmlTokenKind::start_tag:
        if (token.self_closing) {
          handle_startendtag(std::u32string(token.value));
        } else {
          handle_starttag(std::u32string(token.value), true);
        }
        break;
      case HtmlTokenKind::end_tag:
        handle_endtag(std::u32string(token.value), true);
        break;
      case HtmlTokenKind::cdata:
        handle_special(token.value, string_class::cdata);
        break;
      case HtmlTokenKind::comment:
      case HtmlTokenKind::processing_instruction:
      case HtmlTokenKind::doctype:
      case HtmlTokenKind::declaration:
        handle_special(token.value, string_class::other);
        break;
    }
  }

  // ----- bs4's BeautifulSoupHTMLParser -----

  void handle_starttag(const std::u32string& name, bool handle_empty_element) {
    end_data(string_class::navigable);
    open_tags_.push_back(name);
    if (handle_empty_element && is_void_element(name)) {
      // html.parser sends no end event for <br>; bs4 closes it now and ignores a later </br>.
      handle_endtag(name, false);
      already_closed_empty_element_.push_back(name);
    }
  }

  void handle_startendtag(const std::u32string& name) {
    handle_starttag(name, false);
    handle_endtag(name, true);
  }

  void handle_endtag(const std::u32string& name, bool check_already_closed) {
    if (check_already_closed) {
      const auto it = std::find(already_closed_empty_element_.begin(), already_closed_empty_element_.end(), name);
      if (it != already_closed_empty_element_.end()) {
        already_closed_empty_element_.erase(it);
        return;
      }
    }
    // BeautifulSoup.handle_endtag: endData(), then _popToTag(name) when one is open.
    end_data(string_class::navigable);
    const auto open = std::find(open_tags_.rbegin(), open_tags_.rend(), name);
    if (open != open_tags_.rend()) open_tags_.erase(std::prev(open.base()), open_tags_.end());
  }

  void handle_data(std::u32string_view data) {
    current_data_ += data;
    has_data_ = true;
  }

  // Comments, declarations, CDATA, processing instructions: their own string.
  void handle_special(std::u32string_view data, string_class cls) {
    end_data(string_class::navigable);
    handle_data(data);
    end_data(cls);
  }

  // ----- BeautifulSoup tree building, reduced to what get_text() returns -----

  void end_data(string_class cls) {
    // bs4 tests its list of pending chunks, so even one empty chunk makes a string.
    if (!has_data_) return;
    std::u32string data = std::move(current_data_);
    current_data_.clear();
    has_data_ = false;
    const auto is_open = [&](std::u32string_view name) {
      return std::find(open_tags_.begin(), open_tags_.end(), name) != open_tags_.end();
    };
    if (!is_open(U"pre") && !is_open(U"textarea") &&
        std::all_of(data.begin(), data.end(), [](char32_t c) {
          return c == U' ' || c == U'\n' || c == U'\t' || c == U'\f' || c == U'\r';
        })) {
      data = data.find(U'\n') != npos ? U"\n" : U" ";
    }
    // Inside rt, rp, style, script or template, plain strings get a class of their
    // own (RubyTextString, Stylesheet, ...) that get_text() skips; CData stays CData.
    const bool in_string_container =
        is_open(U"rt") || is_open(U"rp") || is_open(U"style") || is_open(U"script") || is_open(U"template");
    if (cls == string_class::cdata || (cls == string_class::navigable && !in_string_container)) text_ += data;
  }

  std::vector<std::u32string> already_closed_empty_element_;
  std::vector<std::u32string> open_tags_;  // bs4's tagStack without the root
  std::u32string current_data_;
  bool has_data_ = false;
  std::u32string text_;
};

}  // namespace

std::u32string html_get_text(std::u32string_view markup) { return soup_text_builder().run(markup); }

}  // namespace longqa::eval::detail
