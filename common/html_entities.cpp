// The named character reference table (longqa/common/html_entities.h).
#include "longqa/common/html_entities.h"

#include <algorithm>
#include <iterator>

namespace longqa {
namespace {

constexpr HtmlEntity kHtmlEntities[] = {
#include "html_entities.inc"
};

}  // namespace

const HtmlEntity* find_html_entity(std::string_view name) {
  // The generator sorts by Python's str order, which for ASCII names is byte order.
  const HtmlEntity* it = std::lower_bound(std::begin(kHtmlEntities), std::end(kHtmlEntities), name,
                                          [](const HtmlEntity& e, std::string_view key) { return e.name < key; });
  return it != std::end(kHtmlEntities) && it->name == name ? it : nullptr;
}

}  // namespace longqa
